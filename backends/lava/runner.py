"""Run a SpikingNet in Lava, in a child process with a timeout, and read back its trace.

The child (child.py) builds the stock Lava processes and TraceProbes, runs each sample for
`steps` steps (resetting Vars between samples, not rebuilding), and stops. A child that fails
reports its own error; one that outlives the timeout gets SIGTERM (it then stops Lava's workers),
and whatever of its process group remains a few seconds later gets SIGKILL.

The child runs in a session of its own, so a signal meant for this process does not reach it.
Ctrl-C (KeyboardInterrupt), and SIGTERM or SIGHUP received in the main thread while a run is under
way, end the child's process group the same way and remove the job folder; then SIGTERM and SIGHUP
are acted on as their previous handlers would have been: by default SystemExit(128 + signal), so a
shell sees the usual status and no traceback is printed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import snnc
from snnc.backends.lava.graph import lava_graph
from snnc.backends.lava.specs import from_lava
from snnc.compiler.ir.spiking import SpikingNet
from snnc.errors import SnncError
from snnc.runtime.trace import VARIABLES, Trace
from snnc.targets import LOIHI2, Target

BACKENDS = ("lava-cpu", "loihi2-hw")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Stopped(Exception):
    """Raised (not from a signal handler) to leave a run that a stop signal asked to end."""


class _StopSignals:
    """The first SIGTERM or SIGHUP received during a run; the handler only records it, and the
    run checks at safe points, so cleanup is never interrupted half-way."""

    def __init__(self):
        self.signum: int | None = None

    def record(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise _Stopped(signal.Signals(self.signum).name)


def loihi_extension_installed() -> bool:
    """Lava's Loihi extension (lava-loihi, Intel's INRC package) provides the hardware compiler."""
    try:
        return importlib.util.find_spec("lava.utils.loihi2_profiler") is not None
    except ModuleNotFoundError:
        return False


def lava_trace(net: SpikingNet, drive: np.ndarray, steps: int, backend: str = "lava-cpu",
               timeout: float = 600.0, target: Target = LOIHI2) -> Trace:
    """Every population's u, v and spikes at steps 1..steps for each sample, (T, B, *shape)."""
    if backend not in BACKENDS:
        raise SnncError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "loihi2-hw" and not loihi_extension_installed():
        raise SnncError("backend loihi2-hw needs Lava's Loihi extension (lava-loihi), which is not installed "
                        "here; use --backend lava-cpu or run on a host with Loihi 2 hardware")
    graph = lava_graph(net, target, drive, steps)
    samples = len(drive)
    with _stop_signals() as stops, tempfile.TemporaryDirectory(prefix="snnc-lava-") as tmp:
        job = Path(tmp)
        job.joinpath("job.pkl").write_bytes(pickle.dumps(
            {"graph": graph, "samples": samples, "steps": steps, "backend": backend}))
        output = _run_child(job, timeout, stops)
        if not job.joinpath("done").exists():
            error = job.joinpath("error.txt")
            detail = error.read_text() if error.exists() else output
            raise SnncError(f"the Lava run failed: {_last_line(detail)}")
        return _read_trace(job, net, samples, steps)


@contextlib.contextmanager
def _stop_signals():
    """While the body runs, SIGTERM and SIGHUP (those not ignored) are only recorded; afterwards
    (the child ended, the job folder removed) the previous handlers are restored and a recorded
    signal is acted on as they would have. Outside the main thread nothing is installed."""
    stops = _StopSignals()
    previous = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) not in (signal.SIG_IGN, None):  # None: not set from Python
                    previous[signum] = signal.signal(signum, stops.record)
        yield stops
    except _Stopped:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if stops.signum is not None:
            _act_on(stops.signum, previous[stops.signum])


def _act_on(signum: int, previous) -> None:
    """What `previous` would have done with `signum`: SIG_DFL ends the process, here as
    SystemExit(128 + signum) (no traceback, the shell's usual status); a Python handler is called,
    and if it returns, the run is reported as stopped."""
    if callable(previous):
        previous(signum, None)
        raise SnncError(f"the Lava run was stopped by {signal.Signals(signum).name}")
    raise SystemExit(128 + signum)


def _run_child(job: Path, timeout: float, stops: _StopSignals) -> str:
    """Run the child; its output goes to a file (Lava's workers inherit and may hold a pipe)."""
    stops.check()
    log = job / "output.txt"
    # the child imports this very snnc: from the job folder (a source checkout in the current
    # folder would otherwise shadow it), with this snnc's location first on its path
    here = os.path.dirname(os.path.dirname(os.path.abspath(snnc.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    with log.open("w") as sink:
        child = subprocess.Popen([sys.executable, "-m", "snnc.backends.lava.child", str(job)], cwd=job, env=env,
                                 stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(child, timeout, stops)
    except subprocess.TimeoutExpired:
        raise SnncError(f"the Lava run did not finish within {timeout:g} s and was stopped") from None
    finally:
        _end_group(child)
    return log.read_text()


def _wait(child: subprocess.Popen, timeout: float, stops: _StopSignals) -> None:
    """Until the child exits; TimeoutExpired after `timeout` s, _Stopped once a stop signal came."""
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        stops.check()
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(child.args, timeout)
        time.sleep(min(0.05, left))
    stops.check()


def _end_group(child: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the child if it still runs (it then stops Lava's workers and frees their shared
    memory), give it `grace` seconds, then SIGKILL whatever is left of its process group."""
    try:
        if child.poll() is None:
            child.terminate()
        child.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
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
