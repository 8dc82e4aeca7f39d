"""The Lava run, in a process of its own: `python -m snnc.backends.lava.child JOB_DIR`.

JOB_DIR/job.pkl holds {"graph": LavaGraph (every sample's input inside), "samples": B, "steps": T,
"backend": "lava-cpu" | "loihi2-hw"}. Each population's spikes and the two Vars its spec names as
u and v (none for a host spike source) for all B * T steps are written to
JOB_DIR/<i>_<s|u|v>.npy (Lava layout) by probes; then JOB_DIR/done is created.
A failure writes the real error (the failing Lava process's traceback, not Lava's "1 Exception(s)
occurred", and also when Lava would wait forever on the survivors) to JOB_DIR/error.txt, kills
Lava's worker processes (stop() hangs after an error) and exits 3. SIGTERM (the parent's timeout)
does the same. Exiting this way lets multiprocessing's resource tracker free Lava's shared memory.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import traceback
from pathlib import Path

import numpy as np


def main(job: Path) -> int:
    from lava.magma.core.run_conditions import RunSteps

    from snnc.backends.lava.build import build, reset
    from snnc.backends.lava.probe.probe import SpikeProbe, TraceProbe
    from snnc.backends.lava.specs import lava_shape

    spec = pickle.loads((job / "job.pkl").read_bytes())
    graph, samples, steps = spec["graph"], spec["samples"], spec["steps"]
    built = build(graph)
    for i, pop in enumerate(graph.populations):
        shape = lava_shape(pop.ir_shape)
        files = {k: str(job / f"{i}_{k}.npy") for k in ("suv" if pop.probes else "s")}
        for kind, path in files.items():
            np.lib.format.open_memmap(path, "w+", np.int32 if kind != "s" or pop.graded else bool, (samples * steps, *shape))
        neurons = built.neurons[pop.name]
        probe = (TraceProbe if pop.probes else SpikeProbe)(shape=shape, files=files, name=f"probe_{pop.name}")
        neurons.s_out.connect(probe.s_in)
        if pop.probes:
            probe.u_ref.connect_var(getattr(neurons, pop.probes[0]))
            probe.v_ref.connect_var(getattr(neurons, pop.probes[1]))
    root = built.neurons[graph.populations[0].name]
    run_cfg = _run_config(spec["backend"])
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for b in range(samples):
            if b:
                reset(built, graph, b)
            _watched_run(root, RunSteps(num_steps=steps), run_cfg)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent with the failing process's traceback
        (job / "error.txt").write_text(_lava_errors(root) or f"{type(exc).__name__}: {exc}")
        _abandon(root)
        sys.stdout.flush()
        os._exit(3)
    root.stop()
    (job / "done").touch()
    return 0


def _watched_run(root, condition, run_cfg) -> None:
    """root.run(), while watching Lava's worker processes: an exception in one of them otherwise
    leaves the others, and run(), waiting forever."""
    failure = []

    def run():
        try:
            root.run(condition=condition, run_cfg=run_cfg)
        except Exception as exc:  # noqa: BLE001 - re-raised below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
        if _lava_errors(root):
            raise RuntimeError("a Lava process failed")
    if failure:
        raise failure[0]


def _run_config(backend: str):
    if backend == "loihi2-hw":
        from lava.magma.core.run_configs import Loihi2HwCfg

        return Loihi2HwCfg()
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")


def _on_sigterm(signum, frame):
    raise TimeoutError("stopped by the parent's timeout")


def _infrastructure(process):
    """Lava's multiprocessing message infrastructure, once the runtime has started it."""
    return getattr(getattr(process, "runtime", None), "_messaging_infrastructure", None)


def _actors(process) -> list:
    """Lava's worker processes."""
    return list(getattr(_infrastructure(process), "actors", []))


def _abandon(process) -> None:
    """After a failure: kill the workers and shut the shared-memory manager down, which frees
    Lava's shared memory segments (stop() would wait forever)."""
    for actor in _actors(process):
        actor.kill()
    manager = getattr(_infrastructure(process), "smm", None)
    if manager is not None:
        manager.shutdown()


def _lava_errors(process) -> str:
    """The tracebacks Lava's runtime collected from its process models (it only logs them)."""
    found = [a.exception[1] for a in _actors(process) if getattr(a, "exception", None)]
    return "\n".join(str(t) for t in found)


if __name__ == "__main__":
    job_dir = Path(sys.argv[1])
    try:
        sys.exit(main(job_dir))
    except Exception:  # noqa: BLE001 - the parent shows this
        (job_dir / "error.txt").write_text(traceback.format_exc())
        os._exit(3)
