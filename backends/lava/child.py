"""The Lava run, in a process of its own: `python -m snnc.backends.lava.child JOB_DIR`.

JOB_DIR/job.pkl holds {"graph": LavaGraph, "input_bias": (B, *input shape) int32, "steps": T,
"backend": "lava-cpu" | "loihi2-hw"}. Each population's spikes, u and v for all B * T steps are
written to JOB_DIR/<i>_<s|u|v>.npy (Lava layout) by TraceProbes; then JOB_DIR/done is created.
A failure writes the real error (the child process's traceback, not Lava's "1 Exception(s)
occurred") to JOB_DIR/error.txt and exits 3 without stop(), which would hang after an error;
the parent kills the process group.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from pathlib import Path

import numpy as np


def trace_files(job: Path, index: int) -> dict[str, str]:
    return {k: str(job / f"{index}_{k}.npy") for k in "suv"}


def main(job: Path) -> int:
    from lava.magma.core.run_conditions import RunSteps

    from snnc.backends.lava.build import build, reset
    from snnc.backends.lava.probe.probe import TraceProbe
    from snnc.backends.lava.specs import lava_shape

    spec = pickle.loads((job / "job.pkl").read_bytes())
    graph, bias, steps = spec["graph"], spec["input_bias"], spec["steps"]
    built = build(graph, bias[0])
    for i, pop in enumerate(graph.populations):
        shape = lava_shape(pop.ir_shape)
        files = trace_files(job, i)
        for kind, path in files.items():
            np.lib.format.open_memmap(path, "w+", bool if kind == "s" else np.int32, (len(bias) * steps, *shape))
        probe = TraceProbe(shape=shape, files=files, name=f"probe_{pop.name}")
        lif = built.lifs[pop.name]
        lif.s_out.connect(probe.s_in)
        probe.u_ref.connect_var(lif.u)
        probe.v_ref.connect_var(lif.v)
    root = built.lifs[graph.populations[0].name]
    run_cfg = _run_config(spec["backend"])
    try:
        for b in range(len(bias)):
            if b:
                reset(built, graph, bias[b])
            root.run(condition=RunSteps(num_steps=steps), run_cfg=run_cfg)
    except Exception as exc:  # noqa: BLE001 - reported to the parent with the child's own traceback
        (job / "error.txt").write_text(_lava_errors(root) or f"{type(exc).__name__}: {exc}")
        sys.stdout.flush()
        os._exit(3)
    root.stop()
    (job / "done").touch()
    return 0


def _run_config(backend: str):
    if backend == "loihi2-hw":
        from lava.magma.core.run_configs import Loihi2HwCfg

        return Loihi2HwCfg()
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")


def _lava_errors(process) -> str:
    """The tracebacks Lava's runtime collected from its process models (it only logs them)."""
    runtime = getattr(process, "runtime", None)
    actors = getattr(getattr(runtime, "_messaging_infrastructure", None), "actors", [])
    found = [a.exception[1] for a in actors if getattr(a, "exception", None)]
    return "\n".join(str(t) for t in found)


if __name__ == "__main__":
    job_dir = Path(sys.argv[1])
    try:
        sys.exit(main(job_dir))
    except Exception:  # noqa: BLE001 - the parent shows this
        (job_dir / "error.txt").write_text(traceback.format_exc())
        os._exit(3)
