"""Run a SpikingNet in Lava, in a child process with a timeout, and read back its trace.

The child (child.py) builds the stock Lava processes and TraceProbes, runs each sample for
`steps` steps (resetting Vars between samples, not rebuilding), and stops. A child that fails
reports its own error; one that outlives the timeout gets SIGTERM (it then stops Lava's workers),
and whatever of its process group remains a few seconds later gets SIGKILL.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import snnc
from snnc.backends.lava.graph import lava_graph
from snnc.backends.lava.specs import from_lava
from snnc.compiler.ir.spiking import SpikingNet
from snnc.errors import SnncError
from snnc.runtime.trace import VARIABLES, Trace

BACKENDS = ("lava-cpu", "loihi2-hw")


def loihi_extension_installed() -> bool:
    """Lava's Loihi extension (lava-loihi, Intel's INRC package) provides the hardware compiler."""
    try:
        return importlib.util.find_spec("lava.utils.loihi2_profiler") is not None
    except ModuleNotFoundError:
        return False


def lava_trace(net: SpikingNet, input_bias: np.ndarray, steps: int, backend: str = "lava-cpu",
               timeout: float = 600.0) -> Trace:
    """Every population's u, v and spikes at steps 1..steps for each sample, (T, B, *shape)."""
    if backend not in BACKENDS:
        raise SnncError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "loihi2-hw" and not loihi_extension_installed():
        raise SnncError("--backend loihi2-hw needs Lava's Loihi extension (lava-loihi), which is not installed "
                        "here; use --backend lava-cpu or run on a host with Loihi 2 hardware")
    graph = lava_graph(net)
    bias = np.asarray(input_bias, np.int32)
    with tempfile.TemporaryDirectory(prefix="snnc-lava-") as tmp:
        job = Path(tmp)
        job.joinpath("job.pkl").write_bytes(pickle.dumps(
            {"graph": graph, "input_bias": bias, "steps": steps, "backend": backend}))
        output = _run_child(job, timeout)
        if not job.joinpath("done").exists():
            error = job.joinpath("error.txt")
            detail = error.read_text() if error.exists() else output
            raise SnncError(f"the Lava run failed: {_last_line(detail)}")
        return _read_trace(job, net, len(bias), steps)


def _run_child(job: Path, timeout: float) -> str:
    """Run the child; its output goes to a file (Lava's workers inherit and may hold a pipe)."""
    log = job / "output.txt"
    # the child imports this very snnc: from the job folder (a source checkout in the current
    # folder would otherwise shadow it), with this snnc's location first on its path
    here = os.path.dirname(os.path.dirname(os.path.abspath(snnc.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    with log.open("w") as sink:
        child = subprocess.Popen([sys.executable, "-m", "snnc.backends.lava.child", str(job)], cwd=job, env=env,
                                 stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.terminate()
        raise SnncError(f"the Lava run did not finish within {timeout:g} s and was stopped") from None
    finally:
        _end_group(child)
    return log.read_text()


def _end_group(child: subprocess.Popen, grace: float = 5.0) -> None:
    """Give the child `grace` seconds to end (after SIGTERM it stops Lava's workers and frees their
    shared memory), then SIGKILL whatever is left of its process group."""
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()


def _read_trace(job: Path, net: SpikingNet, batch: int, steps: int) -> Trace:
    parts = {k: {} for k in VARIABLES}
    for i, pop in enumerate(net.populations):
        for k in VARIABLES:
            if not (job / f"{i}_{k}.npy").exists():  # a host spike source has no u or v on the chip
                continue
            x = np.load(job / f"{i}_{k}.npy")
            x = x.reshape(batch, steps, *x.shape[1:]).swapaxes(0, 1)
            parts[k][pop.name] = np.ascontiguousarray(from_lava(x, len(pop.shape)))
    return Trace(parts["u"], parts["v"], parts["s"])


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error message (the child process died)"
