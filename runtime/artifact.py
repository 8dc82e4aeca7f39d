"""The .snn artifact: one zip file of JSON (manifest, networks) and .npy arrays. No pickle.

  manifest.json        format, versions, source model and calibration hashes, target, options,
                       per-population scales, compile notes
  spiking.json         the SpikingNet (integer IR); arrays under spiking/
  float.json           the FloatNet (the ANN, for its accuracy); arrays under float/
Written to a temporary file beside the destination and renamed, so a failed write leaves nothing.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from snnc.compiler.ir.spiking import (
    ConvGeometry, FloatNet, FloatPopulation, InputEncoding, LifPopulation, Projection, SigmaDeltaPopulation, SpikeInput,
    SpikingNet,
)
from snnc.errors import SnncError

FORMAT = "snnc-artifact/1"


@dataclass(frozen=True, eq=False)
class Artifact:
    manifest: dict
    spiking: SpikingNet
    float_net: FloatNet


class _Writer:
    def __init__(self, archive: zipfile.ZipFile, prefix: str):
        self.archive, self.prefix, self.count = archive, prefix, 0

    def array(self, value: np.ndarray) -> str:
        name = f"{self.prefix}/{self.count}.npy"
        self.count += 1
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        self.archive.writestr(name, buffer.getvalue())
        return name


def _encode(obj, writer: _Writer):
    if isinstance(obj, np.ndarray):
        return {"npy": writer.array(obj)}
    if isinstance(obj, (tuple, list)):
        return [_encode(x, writer) for x in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _encode(getattr(obj, f.name), writer) for f in fields(obj)}
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return obj


def _array(archive: zipfile.ZipFile, ref: dict) -> np.ndarray:
    return np.load(io.BytesIO(archive.read(ref["npy"])), allow_pickle=False)


def _tuple(value):
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _build(cls, data: dict, archive: zipfile.ZipFile, nested: dict):
    kwargs = {}
    for f in fields(cls):
        value = data[f.name]
        if f.name in nested:
            value = None if value is None else nested[f.name](value)
        elif isinstance(value, dict) and "npy" in value:
            value = _array(archive, value)
        else:
            value = _tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _projection(data, archive):
    return _build(Projection, data, archive, {"conv": lambda d: _build(ConvGeometry, d, archive, {})})


def _population_class(data: dict):
    if "full" in data:
        return SpikeInput
    return SigmaDeltaPopulation if "state_exp" in data else LifPopulation


def save_artifact(path: Path, artifact: Artifact) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the artifact private
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps({"format": FORMAT, **artifact.manifest}, indent=2))
            archive.writestr("spiking.json", json.dumps(_encode(artifact.spiking, _Writer(archive, "spiking"))))
            archive.writestr("float.json", json.dumps(_encode(artifact.float_net, _Writer(archive, "float"))))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_artifact(path: Path) -> Artifact:
    path = Path(path)
    if not path.exists():
        raise SnncError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if manifest.get("format") != FORMAT:
                raise SnncError(f"{path}: artifact format {manifest.get('format')!r}, this snnc reads {FORMAT}")
            s = json.loads(archive.read("spiking.json"))
            f = json.loads(archive.read("float.json"))
            spiking = SpikingNet(
                tuple(_build(_population_class(p), p, archive, {}) for p in s["populations"]),
                tuple(_projection(q, archive) for q in s["projections"]),
                _build(InputEncoding, s["encoding"], archive, {}), _tuple(s["notes"]))
            float_net = FloatNet(
                tuple(_build(FloatPopulation, p, archive, {}) for p in f["populations"]),
                tuple(_projection(q, archive) for q in f["projections"]), _tuple(f["notes"]))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise SnncError(f"{path}: not a readable .snn artifact ({exc})") from None
    return Artifact(manifest, spiking, float_net)
