"""Golden traces: a Lava run stored with its artifact's hash (fixtures/golden, make_golden.py),
replayed without hardware, so a change in either simulator is caught. Plus `snnc verify` end to
end on that artifact, and the hardware test that `make test-hw` runs on a host with a Loihi."""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from snnc.backends.jax.simulator import trace
from snnc.backends.lava.runner import lava_trace
from snnc.cli import main
from snnc.runtime.artifact import load_artifact
from snnc.runtime.data import file_sha256
from snnc.runtime.trace import Trace, load_trace
from snnc.targets import LOIHI2
from helpers import FIXTURES
from test_digits_models import state_values

GOLDEN = FIXTURES.parent / "golden"
ARTIFACT, INPUTS = GOLDEN / "lenet.snn", GOLDEN / "inputs.npz"


@pytest.fixture(scope="module")
def golden():
    stored, meta = load_trace(GOLDEN / "lenet_lava.npz")
    assert meta["artifact_sha256"] == file_sha256(ARTIFACT)  # the trace belongs to this artifact
    net = load_artifact(ARTIFACT).spiking
    return stored, net, net.encode(np.load(INPUTS)["x"])


def assert_same(got: Trace, want: Trace):
    """Equal on every variable both hold (the golden Lava trace has no u, v for the spike source)."""
    assert got.populations == want.populations
    for kind in "uvs":
        for name, x in getattr(want, kind).items():
            if name in getattr(got, kind):
                assert_array_equal(getattr(got, kind)[name], x, err_msg=f"{kind} of {name}")


def test_jax_simulator_replays_the_golden_lava_trace(golden):
    stored, net, bias = golden
    assert sum(int(stored.s[n].sum()) for n in stored.populations[1:-1]) > 100  # hidden layers do spike
    assert_same(trace(net, LOIHI2, bias, len(stored.s["input"])), stored)


def test_lava_backend_replays_the_golden_lava_trace(golden):
    stored, net, bias = golden
    assert_same(lava_trace(net, bias, len(stored.s["input"])), stored)


def test_verify_cli_bit_exact_json(capsys, tmp_path):
    rc = main(["verify", str(ARTIFACT), "--data", str(INPUTS), "--samples", "2", "--timesteps", "12", "--json",
               "--trace", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["bit_exact"] is True and report["differing"] == 0
    assert report["compared"] == state_values(ARTIFACT) * 2 * 12
    assert report["artifact_sha256"] == file_sha256(ARTIFACT)
    jax_saved, _ = load_trace(tmp_path / "jax.npz")
    lava_saved, meta = load_trace(tmp_path / "lava-cpu.npz")
    assert_same(jax_saved, lava_saved)
    assert meta["artifact_sha256"] == report["artifact_sha256"]


def test_verify_cli_exit_1_names_the_first_divergence(monkeypatch, capsys):
    import snnc.runtime.verification

    def one_spike_flipped(net, bias, steps, backend, timeout, target):
        t = lava_trace(net, bias, steps, backend, timeout, target)
        t.s["dense"][5, 1, 7] = ~t.s["dense"][5, 1, 7]
        return t

    monkeypatch.setattr(snnc.runtime.verification, "lava_trace", one_spike_flipped)
    rc = main(["verify", str(ARTIFACT), "--data", str(INPUTS), "--timesteps", "8"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "first at population dense, s at step 6, sample 1, neuron [7]" in " ".join(out.split())
    assert "1 of" in out


def test_verify_hardware_backend_without_lava_loihi_exits_2(capsys):
    assert main(["verify", str(ARTIFACT), "--data", str(INPUTS), "--backend", "loihi2-hw"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lava-loihi" in err


@pytest.mark.loihi
def test_loihi2_hardware_matches_the_golden_trace(golden, capsys):
    """On a host with Loihi 2 and lava-loihi: the chip against the JAX reference (voltage on spike
    steps excluded, docs/verify.md)."""
    rc = main(["verify", str(ARTIFACT), "--data", str(INPUTS), "--samples", "2", "--timesteps", "16",
               "--backend", "loihi2-hw", "--json"])
    assert rc == 0, capsys.readouterr().out


def test_verify_cli_says_bit_exact_in_one_line(capsys):
    rc = main(["verify", str(ARTIFACT), "--data", str(INPUTS), "--samples", "1", "--timesteps", "6"])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and out.startswith("bit-exact:") and "populations" in out
