"""Capped ReLUs (ReLU(max_value=c), relu6) kept whole where the coding's neurons clip at their scale.

Rate coding (reset by subtraction at rate 1: at most one spike per step, an activation of lambda is
one per step) and population coding (a thermometer of N) carry at most lambda, so a capped ReLU is
one population with lambda <= c: its neurons' saturation is the cap. The other codings (sigma-delta's
graded payloads, TTFS, Loihi's reset to zero, a rate below 1) keep split_capped_relu's two
populations. Checked here: the lowered float net equals Keras with the caps kept, which coding
splits, every capped scale is at most its cap however the scales are chosen, and the integer
network clips: on inputs where the cap decides the class (the unclipped ANN answers the other class)
it answers the clipped ANN's class.
"""

import keras
import numpy as np
import pytest

import snnc
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.pipeline import graph_passes
from snnc.runtime.artifact import load_artifact

L = keras.layers
CAP = 6.0


def _two_branches():
    """class 0 reads relu6(10 x0), class 1 reads relu(8 x1): the cap decides where 6 < 8 x1 < 10 x0."""
    inp = keras.Input((2,))
    capped = L.Dense(1, activation="relu6", name="capped")(inp)
    plain = L.Dense(1, activation="relu", name="plain")(inp)
    out = L.Dense(2, name="logits")(L.Concatenate()([capped, plain]))
    model = keras.Model(inp, out)
    model.get_layer("capped").set_weights([np.array([[10.0], [0.0]], np.float32), np.zeros(1, np.float32)])
    model.get_layer("plain").set_weights([np.array([[0.0], [8.0]], np.float32), np.zeros(1, np.float32)])
    model.get_layer("logits").set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capped")
    model = _two_branches()
    model.save(folder / "m.keras")
    rng = np.random.default_rng(0)
    np.savez(folder / "cal.npz", x=rng.uniform(0, 1, (256, 2)).astype(np.float32))
    x = rng.uniform(0, 1, (20000, 2)).astype(np.float32)
    capped, plain = np.minimum(10 * x[:, 0], CAP), 8 * x[:, 1]
    decided_by_cap = (plain > capped + 0.6) & (plain < 10 * x[:, 0] - 0.6)  # class 1 only because of the cap
    x = x[decided_by_cap][:64]
    assert len(x) == 64
    y = np.asarray(model.predict(x, verbose=0)).argmax(1)
    assert (y == 1).all()
    np.savez(folder / "test.npz", x=x, y=y)
    return folder


def test_kept_whole_the_float_net_equals_keras(files):
    model = keras.models.load_model(files / "m.keras")
    x = np.random.default_rng(1).uniform(0, 1, (32, 2)).astype(np.float32)
    graph = load_model_graph(files / "m.keras")
    notes = []
    for graph_pass in graph_passes(split_caps=False):
        graph, new = graph_pass(graph)
        notes += new
    net, _ = lower_to_populations(graph)
    assert [(p.name, p.cap) for p in net.populations if p.role == "hidden"] == [("capped", CAP), ("plain", None)]
    assert any("kept as one population" in n for n in notes)
    np.testing.assert_allclose(np.asarray(net.forward(x)["output"]), np.asarray(model.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options,split", [
    ({}, False), ({"coding": "population"}, False), ({"coding": "sigma-delta"}, True), ({"coding": "ttfs"}, True),
    ({"reset": "zero"}, True), ({"max_rate": 0.5}, True)])
def test_which_codings_keep_a_capped_relu_whole(files, tmp_path, options, split):
    snnc.compile(files / "m.keras", calibration=files / "cal.npz", output=tmp_path / "m.snn", **options)
    names = {p.name for p in load_artifact(tmp_path / "m.snn").float_net.populations}
    assert ("capped.above6" in names) == split


@pytest.mark.parametrize("options", [{}, {"percentile": 100.0}, {"coding": "population"}, {"no_calibration": True}])
def test_a_kept_cap_bounds_its_scale(files, tmp_path, options):
    """The calibration data drives z = 10 x0 to 10: without the cap its scale would be near 10."""
    options = dict(options)
    calibration = None if options.pop("no_calibration", False) else files / "cal.npz"
    snnc.compile(files / "m.keras", calibration=calibration, output=tmp_path / "m.snn", **options)
    art = load_artifact(tmp_path / "m.snn")
    assert art.float_net.population("capped").cap == CAP
    assert 0 < art.manifest.scales["capped"] <= CAP


@pytest.mark.parametrize("options,timesteps", [({"timesteps_hint": 64}, 64), ({"coding": "population"}, 4),
                                               ({"max_rate": 0.5, "timesteps_hint": 64}, 64),
                                               ({"coding": "sigma-delta"}, 8)])
def test_the_integer_network_clips_at_the_cap(files, tmp_path, options, timesteps):
    """Every test input is one the unclipped ANN would call class 0: the integer network must clip."""
    snnc.compile(files / "m.keras", calibration=files / "cal.npz", output=tmp_path / "m.snn", **options)
    result = snnc.evaluate(tmp_path / "m.snn", data=files / "test.npz", timesteps=[timesteps])
    assert result.results[0].accuracy >= 0.95


def test_a_kept_cap_verifies_bit_exact_on_lava(files, tmp_path):
    snnc.compile(files / "m.keras", calibration=files / "cal.npz", output=tmp_path / "m.snn")
    result = snnc.verify(tmp_path / "m.snn", data=files / "test.npz", samples=2, timesteps=16)
    assert result.bit_exact and "capped" in result.comparison.populations
