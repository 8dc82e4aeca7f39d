"""snnc: hardware-deployment compiler for spiking neural networks (Keras -> Loihi integers)."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "jax")

from snnc.api import (  # noqa: E402
    CompileResult, EvaluateResult, LayerRow, TimestepAccuracy, compile, evaluate, inspect,
)
from snnc.errors import SnncError  # noqa: E402

__all__ = ["compile", "evaluate", "inspect", "CompileResult", "EvaluateResult", "LayerRow", "TimestepAccuracy", "SnncError"]
