"""Traces: every population's u, v and spikes at every step, as both simulators report them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VARIABLES = ("u", "v", "s")


@dataclass(frozen=True)
class Trace:
    """Per population name, per step t = 1..T: arrays (T, B, *population shape); u and v int32,
    s bool (int32 graded payloads for sigma-delta). Dict order is the network's population order;
    a population without u or v on one side (a host spike source in Lava) is missing from those."""
    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    s: dict[str, np.ndarray]

    @property
    def populations(self) -> list[str]:
        return list(self.s)


def save_trace(path: Path, trace: Trace, **meta) -> None:
    """An .npz with keys "<variable>:<population>" plus meta values (e.g. the artifact's hash)."""
    from snnc.runtime.outputs import check_output, write_atomically

    arrays = {f"{k}:{name}": x for k in VARIABLES for name, x in getattr(trace, k).items()}
    with write_atomically(check_output(path)) as tmp:
        np.savez_compressed(tmp, __order__=np.array(trace.populations), **arrays,
                            **{f"__{k}__": np.array(v) for k, v in meta.items()})


def load_trace(path: Path) -> tuple[Trace, dict]:
    with np.load(path, allow_pickle=False) as data:
        order = [str(n) for n in data["__order__"]]
        trace = Trace(*({n: data[f"{k}:{n}"] for n in order if f"{k}:{n}" in data.files} for k in VARIABLES))
        meta = {k[2:-2]: data[k].item() for k in data.files if k.startswith("__") and k != "__order__"}
    return trace, meta
