"""Max pooling compiled by default as a ReLU tournament of pairwise maxima, max(a, b) = relu(a - b) + b
(compiler/passes/maxpool_to_relu.py): the rewritten float graph is the MaxPool graph, for inputs of
either sign; the window taps compose into the neighbouring Convs; the digits LeNet with max pooling
compiles without --maxpool, its sigma-delta SNN at T=16 is within 0.5 points of the original ANN,
and Lava runs it bit-exact for both neuron kinds. --maxpool avg and --maxpool refuse remain."""

import json
import math

import numpy as np
import pytest

import snnc
from helpers import FIXTURES, digits
from snnc.cli import main
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.ir.float_graph import Conv, Dense, FloatGraph, Input, Layer, MaxPool, Relu, Reshape
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.passes.maxpool_to_relu import maxpool_to_relu
from snnc.compiler.pipeline import graph_passes
from snnc.errors import SnncError

# name -> (input shape, pool, strides); 1-D pooling is its height-1 2-D form, as the frontend writes it
CASES = {
    "2x2 stride 2": ((8, 8, 3), (2, 2), (2, 2)),
    "3x3 stride 2": ((9, 9, 3), (3, 3), (2, 2)),
    "2x2 stride 1": ((7, 7, 2), (2, 2), (1, 1)),
    "3x2 stride 2x3": ((7, 8, 2), (3, 2), (2, 3)),
    "1-D 2 stride 2": ((1, 12, 2), (1, 2), (1, 2)),
    "1-D 3 stride 1": ((1, 13, 2), (1, 3), (1, 1)),
}


def _graph(shape, pool, strides, after_relu=True, seed=0, pads=((0, 0), (0, 0))) -> FloatGraph:
    """input -> conv 3x3 'same' [-> relu] -> MaxPool -> conv 2x2 padded -> relu -> flatten -> dense."""
    rng = np.random.default_rng(seed)
    c = shape[-1]
    kh = min(3, shape[0])
    layers = [Layer("in", Input(shape), ()),
              Layer("c", Conv(rng.normal(size=(kh, 3, c, c)).astype(np.float32), rng.normal(size=c).astype(np.float32),
                              (1, 1), ((kh // 2, kh // 2), (1, 1))), ("in",))]
    if after_relu:
        layers.append(Layer("c/relu", Relu(), ("c",)))
    layers.append(Layer("mp", MaxPool(pool, strides, pads), (layers[-1].name,), "MaxPooling2D"))
    k2 = (2 if shape[0] > 1 else 1, 2)
    layers += [Layer("c2", Conv(rng.normal(size=(*k2, c, 4)).astype(np.float32), None, (1, 1),
                                ((k2[0] - 1, 0), (0, 1))), ("mp",)),
               Layer("c2/relu", Relu(), ("c2",)),
               Layer("flat", Reshape((-1,)), ("c2/relu",))]
    n = int(np.prod(FloatGraph(tuple(layers)).shapes()["flat"]))
    layers.append(Layer("out", Dense(rng.normal(size=(n, 3)).astype(np.float32), None), ("flat",)))
    return FloatGraph(tuple(layers))


def _inputs(shape, signed, n=6, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, *shape)) if signed else rng.uniform(0, 1, (n, *shape))).astype(np.float32)


@pytest.mark.parametrize("after_relu", [True, False], ids=["after ReLU", "linear input"])
@pytest.mark.parametrize("case", CASES)
def test_rewrite_is_the_max_pool_exactly(case, after_relu):
    shape, pool, strides = CASES[case]
    graph = _graph(shape, pool, strides, after_relu)
    rewritten, notes = maxpool_to_relu(graph)
    assert not any(isinstance(layer.op, MaxPool) for layer in rewritten.layers)
    k = pool[0] * pool[1]
    added = [layer.name for layer in rewritten.layers if isinstance(layer.op, Relu) and layer.name.startswith("mp.")]
    assert added == [f"mp.max{i}" for i in range(1, k)]
    assert f"{k - 1} population" in notes[0] and f"{math.ceil(math.log2(k))} layer" in notes[0]
    net, _ = lower_to_populations(rewritten)
    for signed in (False, True):  # max(a, b) = relu(a - b) + b needs no sign: inputs of both signs
        x = _inputs(shape, signed)
        want = np.asarray(graph.forward(x)["out"])
        got = np.asarray(rewritten.forward(x)["out"])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
        pooled_want, pooled_got = np.asarray(graph.forward(x)["mp"]), np.asarray(rewritten.forward(x)["mp"])
        np.testing.assert_allclose(pooled_got, pooled_want, rtol=1e-5, atol=1e-6)
        lowered = np.asarray(net.forward(x)["output"])
        np.testing.assert_allclose(lowered, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# Keras padding='same' with a partial window: name -> (input shape, pool, strides, pads)
PADDED = {
    "2x2 stride 2 on 7x7": ((7, 7, 2), (2, 2), (2, 2), ((0, 1), (0, 1))),
    "3x3 stride 2 on 8x8": ((8, 8, 2), (3, 3), (2, 2), ((0, 1), (0, 1))),
    "3x3 stride 1 on 5x6": ((5, 6, 2), (3, 3), (1, 1), ((1, 1), (1, 1))),
    "1-D 3 stride 2 on 12": ((1, 12, 2), (1, 3), (1, 2), ((0, 0), (0, 1))),
}


@pytest.mark.parametrize("case", PADDED)
def test_padded_windows_after_a_relu_are_exact(case):
    """The padded taps read 0, never more than a ReLU's values: the tournament's maximum is Keras's
    (padding takes no part in it), and so is the lowered network's output."""
    shape, pool, strides, pads = PADDED[case]
    graph = _graph(shape, pool, strides, pads=pads)
    rewritten, _ = maxpool_to_relu(graph)
    net, _ = lower_to_populations(rewritten)
    x = _inputs(shape, signed=True)
    want = graph.forward(x)
    np.testing.assert_allclose(np.asarray(rewritten.forward(x)["mp"]), np.asarray(want["mp"]), rtol=1e-5, atol=1e-6)
    out = np.asarray(want["out"])
    np.testing.assert_allclose(np.asarray(net.forward(x)["output"]), out, rtol=1e-4, atol=1e-4 * np.abs(out).max())


def test_padded_windows_after_a_capped_relu_are_exact(tmp_path):
    """ReLU6 -> MaxPooling2D(padding='same') on 7x7: the split ReLU6, relu(z) - relu(z - 6), is known
    to be non-negative, so its padded windows compile; the lowered network is Keras's."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((7, 7, 1)), L.Conv2D(3, 3, padding="same", activation="relu6"),
                              L.MaxPooling2D(2, padding="same"), L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(3).uniform(0, 9, (8, 7, 7, 1)).astype(np.float32)
    graph = load_model_graph(tmp_path / "m.keras")
    for graph_pass in graph_passes():
        graph, _ = graph_pass(graph)
    net, _ = lower_to_populations(graph)
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(net.forward(x)["output"]), want, rtol=1e-4, atol=1e-4)


def test_padded_windows_of_signed_values_are_refused():
    shape, pool, strides, pads = PADDED["2x2 stride 2 on 7x7"]
    with pytest.raises(SnncError, match="'mp'.*partial window.*only after a ReLU"):
        maxpool_to_relu(_graph(shape, pool, strides, after_relu=False, pads=pads))


def _depth(net) -> dict[str, int]:
    depth = {net.populations[0].name: 0}
    for pop in net.populations[1:]:
        depth[pop.name] = 1 + max(depth[q.src] for q in net.projections if q.dst == pop.name)
    return depth


@pytest.mark.parametrize("case", ["2x2 stride 2", "3x3 stride 2", "1-D 2 stride 2"])
def test_tournament_depth_and_conv_projections(case):
    """ceil(log2 k) populations deeper; every projection into the pooling's populations and into the
    next Conv (the window taps included) stays a Conv where the next Conv's padding allows it."""
    shape, pool, strides = CASES[case]
    net, _ = lower_to_populations(maxpool_to_relu(_graph(shape, pool, strides))[0])
    levels = math.ceil(math.log2(pool[0] * pool[1]))
    assert _depth(net)["c2"] == _depth(net)["c"] + levels + 1
    assert all(q.conv is not None for q in net.projections if q.dst != "output"), \
        [(q.src, q.dst) for q in net.projections if q.conv is None]
    # the pooled input reaches the next layer directly (the winner's tap), composed into its Conv
    assert any(q.src == "c" and q.dst == "c2" for q in net.projections)


def test_conv_after_conv_composes_into_one_conv_exactly():
    """Random Conv -> Conv paths (strides, pads on either side, groups): lowering composes them into
    one Conv where exact (checked against the layers by lower_to_populations itself) and falls back
    to a dense matrix otherwise; the lowered network equals the graph."""
    rng = np.random.default_rng(3)
    composed = 0
    for trial in range(12):
        c0, c1 = int(rng.choice([2, 4])), 4
        g1 = int(rng.choice([1, c0])) if c1 % c0 == 0 else 1
        g2 = int(rng.choice([1, 2, c1]))
        c2 = c1 if g2 == c1 else int(rng.choice([2, 4]))
        k1, k2 = (int(v) for v in rng.integers(1, 4, 2))
        s1, s2 = (int(v) for v in rng.integers(1, 3, 2))
        p1 = tuple(tuple(int(v) for v in rng.integers(0, 2, 2)) for _ in range(2))
        p2 = tuple(tuple(int(v) for v in rng.integers(0, 2, 2)) for _ in range(2))
        size = int(rng.integers(6, 10))
        layers = (Layer("in", Input((size, size + 1, c0)), ()),
                  Layer("a", Conv(rng.normal(size=(k1, k1, c0 // g1, c1)).astype(np.float32), None, (s1, s1), p1, g1),
                        ("in",)),
                  Layer("b", Conv(rng.normal(size=(k2, k2, c1 // g2, c2)).astype(np.float32),
                                  rng.normal(size=c2).astype(np.float32), (s2, s2), p2, g2), ("a",)),
                  Layer("b/relu", Relu(), ("b",)))
        graph = FloatGraph(layers)
        net, _ = lower_to_populations(graph)
        composed += net.projections[0].conv is not None
        x = _inputs(graph.input.op.shape, signed=True, n=3, seed=trial)
        want = np.asarray(graph.forward(x)["b/relu"])
        np.testing.assert_allclose(np.asarray(net.forward(x)["b"]), want, rtol=1e-4, atol=1e-4 * max(1, np.abs(want).max()))
    assert composed >= 6, composed  # most geometries have a conv form (8 of these 12)


def test_maxpool1d_from_keras_compiles_exactly(tmp_path):
    import keras

    L = keras.layers
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((12, 2)), L.Conv1D(3, 3, activation="relu"), L.MaxPooling1D(2),
                              L.Conv1D(4, 2, padding="same", activation="relu"), L.MaxPooling1D(3, strides=1),
                              L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(0, 1, (8, 12, 2)).astype(np.float32)
    graph = load_model_graph(tmp_path / "m.keras")
    for graph_pass in graph_passes():
        graph, _ = graph_pass(graph)
    assert not any(isinstance(layer.op, MaxPool) for layer in graph.layers)
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(graph.forward(x)[graph.output.name]), want, rtol=1e-5, atol=1e-5)
    net, _ = lower_to_populations(graph)
    np.testing.assert_allclose(np.asarray(net.forward(x.reshape(8, 1, 12, 2))["output"]), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("maxpool", ["relu", "native"], ids=["relu tournament", "kept for TTFS"])
def test_keras_same_padded_max_pooling_compiles_exactly(tmp_path, maxpool):
    """MaxPooling2D(padding='same') with partial windows (7x7 -> 4x4, 4x4 -> 2x2 by 3x3 stride 2),
    as the ReLU tournament and as the max populations TTFS computes: the lowered network is Keras's."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((7, 7, 1)), L.Conv2D(3, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(2, padding="same"), L.Conv2D(4, 2, padding="same", activation="relu"),
                              L.MaxPooling2D(3, strides=2, padding="same"), L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(1).uniform(0, 1, (8, 7, 7, 1)).astype(np.float32)
    graph = load_model_graph(tmp_path / "m.keras")
    for graph_pass in graph_passes(maxpool):
        graph, _ = graph_pass(graph)
    want = np.asarray(model.predict(x, verbose=0))
    net, _ = lower_to_populations(graph)
    assert sum(p.role == "max" for p in net.populations) == (2 if maxpool == "native" else 0)
    np.testing.assert_allclose(np.asarray(net.forward(x)["output"]), want, rtol=1e-4, atol=1e-4)


def test_kept_for_ttfs_where_it_reads_a_population_else_a_tournament(tmp_path):
    """A max pooling of a ReLU6 (split into relu(x) - relu(x - 6): no one population) becomes the
    tournament; the next one, of a ReLU, stays a max population. The lowered network is Keras's."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(3, 3, padding="same", activation="relu6"),
                              L.MaxPooling2D(2, name="of_relu6"), L.Conv2D(4, 3, padding="same", activation="relu"),
                              L.MaxPooling2D(2, name="of_relu"), L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(2).uniform(0, 3, (8, 8, 8, 1)).astype(np.float32)
    graph = load_model_graph(tmp_path / "m.keras")
    for graph_pass in graph_passes("native"):
        graph, _ = graph_pass(graph)
    net, _ = lower_to_populations(graph)
    assert [p.name for p in net.populations if p.role == "max"] == ["of_relu"]
    assert any(p.name.startswith("of_relu6.max") for p in net.populations)
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(net.forward(x)["output"]), want, rtol=1e-4, atol=1e-4)


def test_a_name_snnc_would_give_is_refused_by_name():
    graph = _graph((4, 4, 1), (2, 2), (2, 2))
    layers = list(graph.layers)
    layers[0] = Layer("mp.max1", layers[0].op, ())
    layers[1] = Layer("c", layers[1].op, ("mp.max1",))
    with pytest.raises(SnncError, match="'mp.max1'.*rename"):
        maxpool_to_relu(FloatGraph(tuple(layers)))


# ---- the digits LeNet with MaxPooling2D (tests/fixtures/tf2/maxpool.h5) ----------------------------

@pytest.fixture(scope="module")
def artifacts(data, tmp_path_factory):
    cal, _ = data
    out = tmp_path_factory.mktemp("maxpool")
    for coding in ("rate", "sigma-delta"):  # no maxpool option: the default compiles max pooling
        snnc.compile(FIXTURES / "maxpool.h5", calibration=cal, output=out / f"{coding}.snn", coding=coding)
    return out


def test_original_ann_is_the_max_pool_model(artifacts):
    """The stored float network is the Keras model with max pooling, not a replacement."""
    _, x_test, _, y_test = digits()
    from snnc.runtime.artifact import load_artifact

    art = load_artifact(artifacts / "sigma-delta.snn")
    assert art.manifest.options.maxpool == "relu"
    assert any("ReLU tournament" in note for note in art.manifest.notes)
    expected = json.loads((FIXTURES / "expected.json").read_text())["maxpool.h5"]
    logits = np.asarray(art.float_net.forward(x_test)["output"])
    assert logits[:16].argmax(1).tolist() == expected["first16_argmax"]
    assert (logits.argmax(1) == y_test).mean() == pytest.approx(expected["test_accuracy"])


def test_sigma_delta_within_half_a_point_of_the_original_ann_at_16_steps(data, artifacts):
    _, test = data
    result = snnc.evaluate(artifacts / "sigma-delta.snn", test, timesteps=(16,))
    ann = json.loads((FIXTURES / "expected.json").read_text())["maxpool.h5"]["test_accuracy"]  # TensorFlow's own
    assert result.ann_accuracy == pytest.approx(ann)
    assert result.results[0].accuracy >= ann - 0.005, (result.results[0].accuracy, ann)


def test_rate_coding_approximates_it(data, artifacts):
    _, test = data
    result = snnc.evaluate(artifacts / "rate.snn", test, timesteps=(64,))
    assert result.results[0].accuracy >= result.ann_accuracy - 0.015, (result.results[0].accuracy, result.ann_accuracy)


@pytest.mark.parametrize("coding", ["rate", "sigma-delta"])
def test_lava_bit_exact(coding, data, artifacts):
    from test_digits_models import state_values

    _, test = data
    result = snnc.verify(artifacts / f"{coding}.snn", test, samples=2, timesteps=24)
    assert result.bit_exact, result.comparison.first
    assert result.comparison.total_compared == 2 * 24 * state_values(artifacts / f"{coding}.snn")


def test_avg_remains_the_cheaper_option(data, tmp_path, artifacts):
    from snnc.runtime.artifact import load_artifact

    cal, _ = data
    result = snnc.compile(FIXTURES / "maxpool.h5", output=tmp_path / "avg.snn", coding="sigma-delta", maxpool="avg")
    assert any("replaced by AveragePooling2D" in note for note in result.notes)
    exact = load_artifact(artifacts / "sigma-delta.snn").spiking
    neurons = lambda net: sum(p.size for p in net.populations)  # noqa: E731
    assert neurons(exact) - neurons(result.network) == 3 * 4 * 4 * 8  # 3 populations of the pooled 4x4x8
    assert len(exact.populations) - len(result.network.populations) == 3


def test_refuse_names_the_layer_and_the_options(tmp_path, capsys):
    out = tmp_path / "m.snn"
    assert main(["compile", str(FIXTURES / "maxpool.h5"), "--maxpool", "refuse", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "'max_pooling2d'" in err and "--maxpool relu" in err and "--maxpool avg" in err
    assert not out.exists()


def test_maxpool1d_on_the_model_input_compiles_by_default(tmp_path, capsys):
    """The pooled tensor is the (signed) model input, not a ReLU's output: still exact, no flag needed."""
    import keras

    L = keras.layers
    model = keras.Sequential([keras.Input((8, 2)), L.MaxPooling1D(2, name="mp"), L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.keras")
    assert main(["compile", str(tmp_path / "m.keras"), "-o", str(tmp_path / "m.snn")]) == 0, capsys.readouterr().err
    assert main(["compile", str(tmp_path / "m.keras"), "--maxpool", "refuse", "-o", str(tmp_path / "r.snn")]) == 2
    assert "'mp'" in capsys.readouterr().err
