"""Inputs of either sign (compiler/passes/split_signed_input.py): each value x travels as relu(x)
and relu(-x), read with weights w and -w. The split float net equals the original on inputs of
both signs (dense, conv, grouped conv, a skip from the input); the encoding lays the halves out as
the weights read them; a model trained on zero-mean data compiles to a network that agrees with
its ANN (before the split, negative inputs were clipped to 0 without a word) and runs bit-exact on
Lava."""

import json

import keras
import numpy as np
import pytest

from snnc.cli import main
from snnc.compiler.ir.float_graph import Add, Conv, Dense, FloatGraph, Input, Layer, Relu, Reshape
from snnc.compiler.ir.spiking import InputEncoding
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.passes.split_signed_input import split_signed_input
from snnc.runtime.artifact import load_artifact

L = keras.layers


def _graph(rng) -> FloatGraph:
    """input (6, 6, 2) -> conv 3x3 + a grouped 1x1 conv of the input itself (a skip) -> relu ->
    flatten -> dense; and a dense straight from the flattened input to the output."""
    w = lambda *shape: rng.normal(size=shape).astype(np.float32)
    layers = (Layer("in", Input((6, 6, 2)), ()),
              Layer("c", Conv(w(3, 3, 2, 4), w(4), (1, 1), ((1, 1), (1, 1))), ("in",)),
              Layer("g", Conv(w(1, 1, 1, 4), None, (1, 1), ((0, 0), (0, 0)), 2), ("in",)),
              Layer("sum", Add(), ("c", "g")),
              Layer("sum/relu", Relu(), ("sum",)),
              Layer("flat", Reshape((144,)), ("sum/relu",)),
              Layer("flat_in", Reshape((72,)), ("in",)),
              Layer("d", Dense(w(144, 3), w(3)), ("flat",)),
              Layer("d_in", Dense(w(72, 3), None), ("flat_in",)),
              Layer("out", Add(), ("d", "d_in")))
    return FloatGraph(layers)


def test_split_net_equals_the_original_on_inputs_of_both_signs():
    rng = np.random.default_rng(0)
    net, _ = lower_to_populations(_graph(rng))
    split, notes = split_signed_input(net, -1.5)
    assert split.signed_input and split.populations[0].shape == (6, 6, 4) and "-1.5" in notes[0]
    x = rng.normal(size=(5, 6, 6, 2)).astype(np.float32)
    want, got = net.forward(x), split.forward(x)
    for pop in net.populations[1:]:
        np.testing.assert_allclose(np.asarray(got[pop.name]), np.asarray(want[pop.name]), rtol=1e-5, atol=1e-5)
    assert split_signed_input(net, 0.0) == (net, []) and split_signed_input(net, None) == (net, [])


def test_signed_encoding_lays_out_each_value_as_its_two_halves():
    x = np.array([[[0.5, -0.25], [-1.0, 0.0]]])
    got = InputEncoding(gain=100.0, max_mant=80, signed=True).drive(x)
    np.testing.assert_array_equal(got, [[[50, 0, 0, 25], [0, 80, 0, 0]]])  # relu(x), relu(-x) per value; clipped at 80
    thermometer = InputEncoding(gain=100.0, max_mant=100, levels=2, signed=True).drive(np.array([[0.6, -0.3]]))
    np.testing.assert_array_equal(thermometer, [[100, 0, 0, 0, 0, 0, 100, 0]])  # 60: level 1 of 2; 30 for -0.3


@pytest.fixture(scope="module")
def zero_mean(tmp_path_factory):
    """A 1-D signal classifier (Conv1D, Dense) trained on standardized data: about half its inputs < 0."""
    folder = tmp_path_factory.mktemp("signed")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 16, 1)).astype(np.float32)
    y = (x[:, :8, 0].sum(1) > x[:, 8:, 0].sum(1)).astype(np.int64) + 2 * (x[:, ::2, 0].sum(1) > 0)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((16, 1)), L.Conv1D(8, 3, padding="same", activation="relu"),
                              L.Flatten(), L.Dense(16, activation="relu"), L.Dense(4)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:500], y[:500], epochs=30, verbose=0)
    model.save(folder / "m.keras")
    np.savez(folder / "cal.npz", x=x[:300])
    np.savez(folder / "test.npz", x=x[500:], y=y[500:])
    return folder


@pytest.mark.parametrize("coding", ["sigma-delta", "rate"])
def test_zero_mean_data_compiles_to_a_network_that_agrees_with_its_ann(zero_mean, coding, tmp_path, capsys):
    out = tmp_path / f"{coding}.snn"
    assert main(["compile", str(zero_mean / "m.keras"), "--calibration", str(zero_mean / "cal.npz"), "-o", str(out),
                 "--coding", coding]) == 0
    net = load_artifact(out).spiking
    assert net.encoding.signed and net.input.shape == (1, 16, 2) and net.sample_shape == (1, 16, 1)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(zero_mean / "test.npz"), "--timesteps", "32", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ann_accuracy"] > 0.7  # the model learned its task
    assert result["results"][0]["accuracy"] >= result["ann_accuracy"] - 0.05, result
    if coding == "rate":
        assert main(["verify", str(out), "--data", str(zero_mean / "test.npz"), "--samples", "1", "--timesteps", "10"]) == 0


def test_evaluate_warns_where_an_unsigned_network_reads_negative_data(zero_mean, tmp_path, capsys):
    """Calibrated on non-negative data (the same inputs, shifted), evaluated on the signed ones."""
    shifted = tmp_path / "cal.npz"
    x = np.load(zero_mean / "cal.npz")["x"]
    np.savez(shifted, x=x - x.min())
    out = tmp_path / "unsigned.snn"
    assert main(["compile", str(zero_mean / "m.keras"), "--calibration", str(shifted), "-o", str(out),
                 "--coding", "sigma-delta"]) == 0
    assert not load_artifact(out).spiking.encoding.signed
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(zero_mean / "test.npz"), "--timesteps", "4", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: the data has values below 0" in captured.err
    assert json.loads(captured.out)["warnings"][0].startswith("the data has values below 0")
