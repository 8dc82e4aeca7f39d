"""Frontend + lowering reproduce the Keras model exactly (float), on tf.keras 2.15 .h5 files and
on Keras 3 .h5 / .keras files; artifacts round-trip; data files stream."""

import dataclasses
import json
import zipfile

import keras
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from helpers import FIXTURES, digits
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.frontend.model_file import load_keras_model
from snnc.compiler.pipeline import graph_passes
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.runtime.artifact import load_artifact
from snnc.runtime.data import iter_x, load_labels


def lowered(path, maxpool="relu"):
    graph = load_model_graph(path)
    for graph_pass in graph_passes(maxpool):
        graph, _ = graph_pass(graph)
    return lower_to_populations(graph)[0]


def _logits(model, x):
    """Keras output before a final softmax (the SNN reads the pre-softmax values)."""
    last = model.layers[-1]
    if getattr(getattr(last, "activation", None), "__name__", "") == "softmax":
        inner = keras.Model(model.inputs, model.layers[-1].output)
        saved = last.activation
        last.activation = keras.activations.linear
        try:
            return np.asarray(inner.predict(x, verbose=0))
        finally:
            last.activation = saved
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["lenet", "resnet", "mlp", "depthwise", "maxpool"])
def test_tf2_fixture_lowering_matches_keras(name):
    _, x_test, _, _ = digits()
    model = load_keras_model(FIXTURES / f"{name}.h5")
    net = lowered(FIXTURES / f"{name}.h5")
    got = np.asarray(net.forward(x_test)["output"])
    want = _logits(model, x_test)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    expected = json.loads((FIXTURES / "expected.json").read_text())[f"{name}.h5"]
    assert_array_equal(got[:16].argmax(1), expected["first16_argmax"])  # what TensorFlow 2.15 predicted


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras3_functional_files(tmp_path, suffix):
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)
    a = keras.layers.BatchNormalization(epsilon=0.02)(a)
    a = keras.layers.ReLU()(a)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(a)
    c = keras.layers.Concatenate()([a, b])
    c = keras.layers.AveragePooling2D(2)(c)
    c = keras.layers.Conv2D(6, 2, strides=2, activation="relu")(keras.layers.ZeroPadding2D(((1, 0), (0, 1)))(c))
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(c))
    model = keras.Model(inp, out)
    bn = model.layers[2]
    bn.set_weights([w + np.random.default_rng(0).uniform(0.1, 0.5, w.shape).astype(np.float32) for w in bn.get_weights()])
    model.save(tmp_path / f"m{suffix}")
    _, x_test, _, _ = digits()
    got = np.asarray(lowered(tmp_path / f"m{suffix}").forward(x_test[:64])["output"])
    np.testing.assert_allclose(got, np.asarray(model.predict(x_test[:64], verbose=0)), rtol=1e-4, atol=1e-5)


def test_maxpool_replaced_only_when_asked_and_noted():
    graph = load_model_graph(FIXTURES / "maxpool.h5")
    for graph_pass in graph_passes("avg"):
        graph, notes = graph_pass(graph)
    assert notes and "replaced by AveragePooling2D" in notes[0]


def test_artifact_roundtrip_and_manifest(tmp_path):
    import snnc

    x_train, x_test, _, y_test = digits()
    np.savez(tmp_path / "cal.npz", x=x_train[:200])
    result = snnc.compile(FIXTURES / "lenet.h5", calibration=tmp_path / "cal.npz", output=tmp_path / "l.snn")
    art = load_artifact(tmp_path / "l.snn")
    assert [type(p) for p in art.spiking.populations] == [type(p) for p in result.network.populations]
    for a, b in zip(result.network.populations, art.spiking.populations):
        for f in dataclasses.fields(a):
            assert_array_equal(getattr(a, f.name), getattr(b, f.name), err_msg=f.name)
    for a, b in zip(result.network.projections, art.spiking.projections):
        assert_array_equal(a.weight, b.weight)
        assert a.weight.dtype == np.int32 and (a.conv is None) == (b.conv is None)
    m = art.manifest
    assert m.target == "loihi2" and len(m.source_model.sha256) == 64 and m.calibration.samples == 200
    assert m.versions["lava-nc"] == "0.10.0" and set(m.scales) == {p.name for p in art.float_net.populations}
    with zipfile.ZipFile(tmp_path / "l.snn") as z:
        assert all(n.endswith((".json", ".npy")) for n in z.namelist())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_npz_streaming_matches_np_load(tmp_path):
    x = np.random.default_rng(0).random((1000, 8, 8)).astype(np.float64)
    y = np.eye(10)[np.arange(1000) % 10]
    np.savez_compressed(tmp_path / "d.npz", x=x, y=y)
    batches = list(iter_x(tmp_path / "d.npz", (8, 8, 1), 300))
    assert [len(b) for b in batches] == [300, 300, 300, 100]
    assert_array_equal(np.concatenate(batches)[..., 0], x.astype(np.float32))
    assert_array_equal(load_labels(tmp_path / "d.npz"), np.arange(1000) % 10)


def test_pooling_kept_in_its_own_population_where_folding_breaks_the_fan_in(tmp_path):
    """A 2x2 average pooling folded into the next 3x3 conv is a 6x6 kernel: 4x the fan-in. Where that
    exceeds the target's fan-in, the pooling gets its own population (exact: the pooling of a ReLU
    population is non-negative) and the conv keeps its 3x3 kernel; elsewhere it is folded."""
    from snnc.targets import LOIHI2

    keras.utils.set_random_seed(2)
    inp = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="wide")(inp)
    a = keras.layers.AveragePooling2D(2, name="pool")(a)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="after")(a)
    model = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Flatten()(a)))
    model.save(tmp_path / "pooled.keras")
    graph = load_model_graph(tmp_path / "pooled.keras")
    for graph_pass in graph_passes():
        graph, _ = graph_pass(graph)
    _, x_test, _, _ = digits()
    want = np.asarray(model.predict(x_test[:64], verbose=0))
    folded = lower_to_populations(graph, LOIHI2)[0]  # 6x6x16 = 576 synapses per neuron fit 4096
    kept = lower_to_populations(graph, LOIHI2.model_copy(update=dict(max_fan_in=300)))[0]
    assert [p.name for p in kept.populations] == [p.name for p in folded.populations][:2] + ["pool"] \
        + [p.name for p in folded.populations][2:]
    assert [q.weight.shape for q in kept.incoming("after")] == [(3, 3, 16, 8)]
    assert [q.weight.shape for q in folded.incoming("after")] == [(6, 6, 16, 8)]
    for net in (folded, kept):
        np.testing.assert_allclose(np.asarray(net.forward(x_test[:64])["output"]), want, rtol=1e-4, atol=1e-5)
