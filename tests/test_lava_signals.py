"""SIGTERM and SIGHUP to a process running a Lava trace end the Lava child's whole session (it runs
in a session of its own, out of reach of signals meant for the parent), remove the job folder,
and exit the parent with 128 + signal and no traceback."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from snnc.backends.lava import runner

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

TESTS = Path(__file__).parent
# a random test network (lava_nets) for far more steps than the test waits for
PARENT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from lava_nets import random_input_bias, random_lava_net
from snnc.backends.lava.runner import lava_trace
net = random_lava_net(1)
lava_trace(net, random_input_bias(net, 1), 200000)
print("finished", flush=True)
"""


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, session id, state) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[3]), fields[0]


def _live_session(sid: int) -> list[int]:
    """Processes of session `sid` that still run (zombies are dead; reaping them is init's job)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[1] == sid and stat[2] != "Z":
                found.append(int(name))
    return found


def _shared_memory(pids: list[int]) -> set[str]:
    """The /dev/shm files that these processes have mapped (Lava's channels)."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found.update(line.split()[-1] for line in maps.splitlines() if " /dev/shm/" in line)
    return found


def _lava_child(parent: int) -> int | None:
    for name in os.listdir("/proc"):
        if name.isdigit() and (_stat(int(name)) or (0,))[0] == parent:
            try:
                if b"snnc.backends.lava.child" in Path(f"/proc/{name}/cmdline").read_bytes():
                    return int(name)
            except OSError:
                pass
    return None


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds:g} s")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_to_the_parent_ends_the_lava_session_and_its_job_folder(tmp_path, signum):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, stdout=out, stderr=err)
    child = None
    try:
        child = _wait_for(lambda: _lava_child(parent.pid), 30, "no Lava child started")
        jobs = _wait_for(lambda: list(tmp.glob("snnc-lava-*")), 10, "no job folder appeared")
        assert os.getsid(child) == child  # its own session: a signal to the parent does not reach it
        shared = _wait_for(lambda: _shared_memory(_live_session(child)), 30, "Lava's workers did not start")
        assert parent.poll() is None
        parent.send_signal(signum)
        sent = time.monotonic()
        assert parent.wait(20) == 128 + signum
        _wait_for(lambda: not _live_session(child), max(1.0, 20 - (time.monotonic() - sent)),
                  "processes of the Lava child's session are still running")
        assert not any(job.exists() for job in jobs)
        assert not list(tmp.glob("snnc-lava-*"))
        assert not [f for f in shared if os.path.exists(f)]  # Lava's shared memory is freed
        stderr = (tmp_path / "err.txt").read_text()
        assert "Traceback" not in stderr, stderr
        assert "finished" not in (tmp_path / "out.txt").read_text()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None:
            for pid in _live_session(child):
                os.kill(pid, signal.SIGKILL)


def test_stop_signal_is_recorded_then_exits_with_its_status_after_cleanup():
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(SystemExit) as stopped:
        with runner._stop_signals() as stops:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)  # the handler runs; it only records
                assert stops.signum == signal.SIGTERM
                stops.check()
            finally:
                cleaned.append(True)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert cleaned and signal.getsignal(signal.SIGTERM) is before


def test_a_previous_python_handler_is_called_after_cleanup():
    calls = []
    before = signal.signal(signal.SIGHUP, lambda signum, frame: calls.append(signum))
    try:
        with pytest.raises(runner.SnncError, match="stopped by SIGHUP"):
            with runner._stop_signals() as stops:
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(0.01)
                assert not calls  # not yet: the run is cleaned up first
                stops.check()
        assert calls == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, before)


def test_an_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with runner._stop_signals() as stops:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.01)
            assert stops.signum is None
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_outside_the_main_thread_no_handler_is_installed():
    seen = []

    def body():
        with runner._stop_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]
