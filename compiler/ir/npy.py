"""Arrays inside the artifact's JSON: an IR array field is written as {"npy": "<member>"} and its
values as an .npy member of the archive. The archive side travels in pydantic's context:
  serializing: context {"arrays": dict}  - each array is added under a new member name
  validating:  context {"arrays": dict}  - member name -> np.ndarray, already read and checked
In plain Python (building the IR in passes) the field is just an np.ndarray."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import PlainSerializer, PlainValidator, SerializationInfo, ValidationInfo


def _load(value, info: ValidationInfo) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    arrays = (info.context or {}).get("arrays")
    if not (isinstance(value, dict) and set(value) == {"npy"} and isinstance(value["npy"], str)) or arrays is None:
        raise ValueError('an array must be written as {"npy": "<member>"}')
    if value["npy"] not in arrays:
        raise ValueError(f"array member {value['npy']!r} is missing")
    return arrays[value["npy"]]


def _dump(value: np.ndarray, info: SerializationInfo) -> dict:
    arrays = info.context["arrays"]
    name = f"{info.context['prefix']}/{len(arrays)}.npy"
    arrays[name] = np.ascontiguousarray(value)
    return {"npy": name}


Npy = Annotated[np.ndarray, PlainValidator(_load), PlainSerializer(_dump)]
