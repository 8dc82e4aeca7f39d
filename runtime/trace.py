"""Traces: every population's u, v and spikes at every step, as both simulators report them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VARIABLES = ("u", "v", "s")


@dataclass(frozen=True)
class Trace:
    """Per population name, per step t = 1..T: arrays (T, B, *population shape); u and v int32,
    s bool. Dict order is the network's population order."""
    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    s: dict[str, np.ndarray]

    @property
    def populations(self) -> list[str]:
        return list(self.u)


def save_trace(path: Path, trace: Trace, **meta) -> None:
    """An .npz with keys "<variable>:<population>" plus meta values (e.g. the artifact's hash)."""
    arrays = {f"{k}:{name}": getattr(trace, k)[name] for k in VARIABLES for name in trace.populations}
    np.savez_compressed(path, __order__=np.array(trace.populations), **arrays,
                        **{f"__{k}__": np.array(v) for k, v in meta.items()})


def load_trace(path: Path) -> tuple[Trace, dict]:
    with np.load(path, allow_pickle=False) as data:
        order = [str(n) for n in data["__order__"]]
        trace = Trace(*({n: data[f"{k}:{n}"] for n in order} for k in VARIABLES))
        meta = {k[2:-2]: data[k].item() for k in data.files if k.startswith("__") and k != "__order__"}
    return trace, meta
