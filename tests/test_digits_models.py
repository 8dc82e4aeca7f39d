"""The digits models end to end: the integer SNN (exactly as the JAX reference simulates it) is
within 1.5 points of the ANN at T=64 (the LeNet within 1.5, 1.0, 0.5 points at T=16, 32, 64; with
sigma-delta neurons within 0.5 at T=8), and `snnc verify` finds the Lava processes bit-exact."""

import pytest

import snnc
from helpers import DIGITS_MODELS, FIXTURES
from snnc.runtime.artifact import load_artifact


@pytest.fixture(scope="module")
def artifacts(data, tmp_path_factory):
    cal, _ = data
    out = tmp_path_factory.mktemp("artifacts")
    for name, maxpool in DIGITS_MODELS.items():
        snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=out / f"{name}.snn", maxpool=maxpool)
    snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=out / "lenet_sd.snn", neuron="sigma-delta")
    return out


@pytest.mark.parametrize("name", sorted(DIGITS_MODELS))
def test_snn_within_1_5_points_of_ann_at_64_steps(name, data, artifacts):
    _, test = data
    result = snnc.evaluate(artifacts / f"{name}.snn", test, timesteps=(16, 32, 64))
    by_t = {r.timesteps: r.accuracy for r in result.results}
    assert result.ann_accuracy > 0.9
    assert by_t[64] >= result.ann_accuracy - 0.015, (name, by_t, result.ann_accuracy)
    if name == "lenet":  # few-timestep targets of rate coding on hard-reset neurons (issue 4)
        gaps = {t: result.ann_accuracy - by_t[t] for t in by_t}
        assert gaps[16] <= 0.015 and gaps[32] <= 0.010 and gaps[64] <= 0.005, gaps


@pytest.mark.parametrize("name", [*sorted(DIGITS_MODELS), "lenet_sd"])
def test_lava_processes_bit_exact(name, data, artifacts):
    _, test = data
    result = snnc.verify(artifacts / f"{name}.snn", test, samples=2, timesteps=24)
    assert result.bit_exact, result.comparison.first
    assert result.comparison.total_compared == 2 * 24 * state_values(artifacts / f"{name}.snn")


def state_values(artifact) -> int:
    """u, v and s per neuron; spikes only for a host source (it has no u, v in Lava)."""
    return sum(p.size * (3 if p.on_chip else 1) for p in load_artifact(artifact).spiking.populations)


def test_evaluate_json_shape(data, tmp_path, capsys):
    from snnc.cli import main
    import json

    cal, test = data
    assert main(["compile", str(FIXTURES / "mlp.h5"), "--calibration", str(cal), "-o", str(tmp_path / "m.snn")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.snn"), "--data", str(test), "--timesteps", "8,32", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["timesteps"] for r in report["results"]] == [8, 32]
    assert all(0 <= r["accuracy"] <= 1 for r in report["results"]) and report["samples"] == 360
    layers = report["layers"]
    assert [layer["neurons"] for layer in layers if layer["layer"] != "bias"] == [64, 64, 32, 10]  # input, hidden, out
    assert [layer["neurons"] for layer in layers if layer["layer"] == "bias"] == [1, 1, 1]  # a tonic source per depth
    assert all(len(layer["spike_histogram"]) == 33 and abs(sum(layer["spike_histogram"]) - layer["neurons"]) < 1e-9
               for layer in layers)
    assert report["synops"] == sum(layer["synops_in"] for layer in layers) > 0
    assert layers[0]["synops_in"] == 0 and layers[0]["ann_macs"] == 0  # nothing arrives at the input
    latency = report["latency"]
    assert latency["timesteps"] == 32 and latency["depth"] + 1 <= latency["mean_steps"] <= latency["max_steps"] <= 32
    assert latency["depth"] + 1 <= latency["p90_steps"] <= latency["max_steps"]
    assert report["energy"]["estimate"] is True and report["energy"]["timesteps"] == 32
    assert report["energy"]["snn_uj"] > 0 and report["energy"]["ann_uj"] > 0
