"""snnc: hardware-deployment compiler for spiking neural networks (Keras -> Loihi integers).

The API is imported on first use, so that `import snnc.<module>` (e.g. the Lava child process)
does not pay for JAX and Keras.
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "jax")

from snnc.errors import SnncError  # noqa: E402

__all__ = ["compile", "evaluate", "verify", "inspect", "export", "report", "sweep", "finetune", "CompileResult",
           "EvaluateResult", "VerifyResult", "ExportResult", "FinetuneResult", "Inspection", "LayerRow", "SweepResult",
           "TimestepAccuracy", "SnncError"]


def __getattr__(name: str):
    if name in __all__:
        from snnc import api

        return getattr(api, name)
    raise AttributeError(f"module 'snnc' has no attribute {name!r}")
