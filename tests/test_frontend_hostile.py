"""The frontend on models it used to get wrong or crash on: shared layers (one layer called twice),
1-D layers, capped ReLUs (ReLU(max_value), relu6), BatchNorms with nothing to fold into, the less
common layers (Rescaling, Normalization, SeparableConv, GlobalMaxPooling, Subtract, Average), and
crafted or malformed model files.

Every compiled construct: the float graph equals Keras's predict, the lowered float net too, and
`snnc compile` + `snnc evaluate` report the ANN accuracy Keras has on the same labels (1.0: the
labels are Keras's own argmax). Every hostile file: exit 2, one line on stderr, no output file.
"""

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from snnc.cli import main
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.frontend.model_file import _zero_initializers, load_keras_model
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.pipeline import graph_passes

L = keras.layers


def _randomize(model, seed, gain=1.0):
    """Seeded random weights; BatchNorm statistics kept plausible (positive variance)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = weights
            new = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                   rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)]
        else:
            new = [rng.normal(0, gain / np.sqrt(max(1, np.prod(w.shape[:-1]))), w.shape) for w in weights]
        layer.set_weights([w.astype(np.float32) for w in new])
    return model


# ---- models -------------------------------------------------------------------------------------

def shared_dense():
    """One Dense applied twice in sequence, and one Dense applied to two branches."""
    inp = keras.Input((8, 8, 1))
    x = L.Flatten()(inp)
    h = L.Dense(12, activation="relu")(x)
    twice = L.Dense(12, activation="relu", name="twice")
    a = twice(twice(h))
    branch = L.Dense(12, activation="relu", name="branch")
    b1 = branch(L.Dense(12)(x))
    b2 = branch(L.Dense(12)(h))
    out = L.Dense(4)(L.Concatenate()([L.Add()([a, b1]), b2]))
    return _randomize(keras.Model(inp, out), 1, gain=1.5)


def shared_conv():
    """One Conv2D applied twice in sequence, and once more on a pooled (4x4) branch: 'same' pads
    and output sizes differ per call."""
    inp = keras.Input((8, 8, 1))
    c = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    shared = L.Conv2D(4, 3, padding="same", strides=2, activation="relu", name="shared")
    a = shared(shared(c))  # 8x8 -> 4x4 -> 2x2
    b = shared(L.AveragePooling2D(2)(c))  # 4x4 -> 2x2
    out = L.Dense(3)(L.GlobalAveragePooling2D()(L.Concatenate()([a, b])))
    return _randomize(keras.Model(inp, out), 2, gain=1.5)


def conv1d():
    """Conv1D (same/valid, strides), AveragePooling1D, BatchNorm on 1-D, GlobalAveragePooling1D."""
    inp = keras.Input((16, 2))
    x = L.Conv1D(6, 3, padding="same", activation="relu")(inp)
    x = L.AveragePooling1D(2)(x)
    x = L.Conv1D(6, 3, strides=2, padding="valid", use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization()(x))
    y = L.Conv1D(4, 2, strides=2, padding="same", activation="relu")(x)
    gap = L.GlobalAveragePooling1D()(x)
    out = L.Dense(3)(L.Concatenate()([gap, L.Flatten()(y)]))
    return _randomize(keras.Model(inp, out), 3, gain=1.5)


def conv1d_sequential():
    return _randomize(keras.Sequential([
        keras.Input((16, 1)), L.Conv1D(4, 5, strides=3, padding="same", activation="relu"),
        L.AveragePooling1D(2, strides=1), L.Flatten(), L.Dense(3)]), 4, gain=1.5)


def dense_to_conv1d():
    """A Reshape to (L, C) in the middle of the model: a 1-D signal made by a Dense, softmax output."""
    return _randomize(keras.Sequential([
        keras.Input((6,)), L.Dense(16, activation="relu"), L.Reshape((8, 2)), L.Conv1D(3, 3, activation="relu"),
        L.GlobalAveragePooling1D(), L.Dense(3, activation="softmax")]), 7, gain=1.5)


def capped_relu():
    """ReLU(max_value=6), activation='relu6' fused and as a layer, and a small cap."""
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, padding="same", use_bias=False, name="first")(inp)
    x = L.ReLU(max_value=6.0, name="six")(L.BatchNormalization()(x))
    x = L.Conv2D(4, 3, strides=2, activation="relu6", name="conv6")(x)
    x = L.Flatten()(x)
    x = L.Activation("relu6", name="act6")(L.Dense(10)(x))
    x = L.ReLU(max_value=0.5, name="half")(L.Dense(8)(x))
    model = _randomize(keras.Model(inp, L.Dense(3)(x)), 5, gain=8.0)
    first = model.get_layer("first")
    first.set_weights([first.get_weights()[0] * 3])  # reach the cap of 'six' often
    return model


def unfolded_batchnorm():
    """BatchNorms with no weighted layer of their own to fold into: on the input, after an Add whose
    sum is read again (pre-activation ResNet), after a Conv also read elsewhere, on a vector."""
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(L.BatchNormalization(name="bn_input")(inp))
    y = L.Conv2D(4, 3, padding="same")(x)
    total = L.Add()([x, y])
    z = L.ReLU()(L.BatchNormalization(name="bn_after_add")(total))
    z = L.Conv2D(4, 3, strides=2, padding="same")(z)
    skip = L.Conv2D(4, 1, strides=2, name="read_twice")(total)
    z = L.ReLU()(L.Add()([z, L.BatchNormalization(name="bn_shared_conv")(skip), skip]))
    h = L.Flatten()(z)
    v = L.ReLU()(L.BatchNormalization(name="bn_vector")(L.Add()([L.Dense(6)(h), L.Dense(6)(h)])))
    return _randomize(keras.Model(inp, L.Dense(3)(v)), 9, gain=1.5)


def dense_block():
    """DenseNet: each BatchNorm reads a Concatenate of every earlier feature map, the first a Conv of
    the input; a transition (1x1 Conv, AveragePooling2D) concatenated again."""
    inp = keras.Input((8, 8, 3))
    features = L.Conv2D(6, 3, padding="same")(inp)
    for _ in range(2):
        grown = L.Conv2D(4, 3, padding="same")(L.ReLU()(L.BatchNormalization()(features)))
        features = L.Concatenate()([features, grown])
    pooled = L.AveragePooling2D(2)(L.Conv2D(6, 1)(L.ReLU()(L.BatchNormalization()(features))))
    grown = L.Conv2D(4, 3, padding="same")(L.ReLU()(L.BatchNormalization()(pooled)))
    features = L.ReLU()(L.BatchNormalization()(L.Concatenate()([pooled, grown])))
    return _randomize(keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(features))), 10, gain=1.5)


def more_layers():
    """Rescaling and Normalization on the input, SeparableConv2D (depth multiplier 2, strided), a
    Dense on an image, a GlobalMaxPooling2D beside a GlobalAveragePooling2D, Subtract and Average."""
    inp = keras.Input((8, 8, 2))
    x = L.Normalization(mean=[0.4, 0.6], variance=[0.09, 0.04])(L.Rescaling(2.0, offset=-0.5)(inp))
    x = L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2, activation="relu")(x)
    y = L.SeparableConv2D(4, 3, padding="valid", use_bias=False)(x)
    pointwise = L.Dense(3, activation="relu")(x)  # Dense on an image: every position, a 1x1 Conv
    g = L.Concatenate()([L.GlobalMaxPooling2D()(L.ReLU()(y)), L.GlobalMaxPooling2D()(y), L.GlobalAveragePooling2D()(x),
                         L.GlobalAveragePooling2D()(pointwise)])
    h = L.Subtract()([L.Dense(6, activation="relu")(g), L.Dense(6)(g)])
    mean = L.Average()([L.Dense(4)(h), L.Dense(4)(L.ReLU()(h)), L.Dense(4)(g)])
    return _randomize(keras.Model(inp, L.Dense(3)(mean)), 10, gain=1.5)


def separable_conv1d():
    return _randomize(keras.Sequential([
        keras.Input((16, 3)), L.SeparableConv1D(4, 3, strides=2, padding="same", activation="relu"),
        L.Dense(5), L.GlobalMaxPooling1D(), L.Dense(3)]), 11, gain=1.5)


def capped_output():
    """A capped ReLU as the model's output."""
    return _randomize(keras.Sequential([keras.Input((6,)), L.Dense(5, activation="relu6", name="out6")]), 6, gain=8.0)


BUILDERS = {"shared_dense": shared_dense, "shared_conv": shared_conv, "conv1d": conv1d,
            "conv1d_sequential": conv1d_sequential, "capped_relu": capped_relu, "capped_output": capped_output,
            "dense_to_conv1d": dense_to_conv1d, "unfolded_batchnorm": unfolded_batchnorm,
            "more_layers": more_layers, "separable_conv1d": separable_conv1d, "dense_block": dense_block}
CASES = [("shared_dense", ".keras"), ("shared_conv", ".h5"), ("conv1d", ".keras"),
         ("conv1d_sequential", ".h5"), ("capped_relu", ".keras"), ("unfolded_batchnorm", ".h5"),
         ("more_layers", ".keras"), ("dense_block", ".keras")]


def _logits(model, x):
    """Keras's output, before a final softmax (snnc drops it: the class is the argmax)."""
    last = model.layers[-1]
    if getattr(last.activation, "__name__", "") != "softmax":
        return np.asarray(model.predict(x, verbose=0))
    kernel, bias = last.get_weights()
    return np.asarray(keras.Model(model.inputs, last.input).predict(x, verbose=0)) @ kernel + bias


def _inputs(model, n, seed):
    return np.random.default_rng(seed).uniform(0, 1, (n, *model.inputs[0].shape[1:])).astype(np.float32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each model saved as .keras and .h5, with its calibration and test data (labels: Keras's argmax)."""
    keras.utils.set_random_seed(0)
    out = {}
    for name, build in BUILDERS.items():
        folder = tmp_path_factory.mktemp(name)
        model = build()
        np.savez(folder / "cal.npz", x=_inputs(model, 32, 10))
        x = _inputs(model, 64, 11)
        last = model.layers[-1]
        if getattr(last.activation, "__name__", "") == "linear":  # centre the logits: every class occurs
            kernel, bias = last.get_weights()
            last.set_weights([kernel, bias - np.asarray(model.predict(x, verbose=0)).mean(0)])
        logits = np.asarray(model.predict(x, verbose=0))
        top2 = np.sort(logits, axis=1)[:, -2:]
        x = x[(top2[:, 1] - top2[:, 0]) > 1e-3][:24]  # no near-ties: the argmax is the same in any float order
        y = np.asarray(model.predict(x, verbose=0)).argmax(1)
        np.savez(folder / "test.npz", x=x, y=y)
        for suffix in (".keras", ".h5"):
            model.save(folder / f"{name}{suffix}")
        out[name] = (model, folder, x, y)
    return out


def _layer_and_weight(weights) -> list[list[str]]:
    return [w.path.split("/")[-2:] for w in weights]  # a Sequential model prefixes its own name


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_loading_reads_every_saved_weight_over_zero_initializers(built, name, suffix):
    """snnc loads a copy whose config initializes with zeros (no random programs to compile): every
    weight must still be the saved one, bit for bit."""
    model, folder, _, _ = built[name]
    loaded = load_keras_model(folder / f"{name}{suffix}")
    assert _layer_and_weight(loaded.weights) == _layer_and_weight(model.weights)
    for saved, read in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(read), np.asarray(saved))


def test_zero_initializers_in_every_config_form():
    config = {"layers": [{"config": {"kernel_initializer": {"module": "keras.initializers", "class_name": "HeNormal",
                                                            "config": {"seed": 3}, "registered_name": None},
                                     "bias_initializer": "ones",
                                     "depthwise_initializer": {"class_name": "RandomNormal", "config": {"stddev": 2}},
                                     "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}}]}
    layer = _zero_initializers(config)["layers"][0]["config"]
    assert layer["kernel_initializer"] == {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                                           "registered_name": None}
    assert layer["bias_initializer"] == "zeros"
    assert layer["depthwise_initializer"] == {"class_name": "Zeros", "config": {}}
    assert layer["kernel_regularizer"] == config["layers"][0]["config"]["kernel_regularizer"]


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_float_graph_and_float_net_equal_keras(built, name, suffix):
    model, folder, x, _ = built[name]
    want = _logits(model, x)
    graph = load_model_graph(folder / f"{name}{suffix}")
    np.testing.assert_allclose(np.asarray(graph.forward(x)[graph.output.name]), want, rtol=1e-5, atol=1e-5)
    for graph_pass in graph_passes():
        graph, _ = graph_pass(graph)
    net, _ = lower_to_populations(graph)
    got = np.asarray(net.forward(x.reshape(len(x), *net.populations[0].shape))["output"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_a_batchnorm_over_a_concatenation_composes_into_convolutions(built):
    """Its per-channel scaling (a depthwise 1x1 Conv) after a Concatenate of Convs is one Conv per
    path, not a dense matrix (a DenseNet on 32x32x3 needed a 36864 x 3072 one and was refused)."""
    graph = load_model_graph(built["dense_block"][1] / "dense_block.keras")
    for graph_pass in graph_passes():
        graph, _ = graph_pass(graph)
    net, _ = lower_to_populations(graph)
    dense = [(q.src, q.dst) for q in net.projections if q.conv is None]
    assert dense == [(net.populations[-2].name, "output")]  # only the head: GlobalAveragePooling2D + Dense


def test_shared_layers_are_one_graph_layer_per_call(built):
    graph = load_model_graph(built["shared_conv"][1] / "shared_conv.keras")
    names = [layer.name for layer in graph.layers]
    assert {"shared", "shared@1", "shared@2"} <= set(names)
    shapes = graph.shapes()
    assert {shapes[n] for n in ("shared", "shared@1", "shared@2")} == {(4, 4, 4), (2, 2, 4)}
    by_name = graph.by_name()
    np.testing.assert_array_equal(by_name["shared"].op.kernel, by_name["shared@2"].op.kernel)
    assert by_name["shared@1"].inputs == ("shared/relu",)


def test_capped_relu_is_exercised_and_split(built):
    model, folder, x, _ = built["capped_relu"]
    graph = load_model_graph(folder / "capped_relu.keras")
    values = graph.forward(x)
    for name, cap in [("six", 6.0), ("conv6/relu", 6.0), ("act6", 6.0), ("half", 0.5)]:
        assert 0.01 < float(np.mean(np.asarray(values[name]) >= cap)) < 0.99, name  # the cap matters on this data
    for graph_pass in graph_passes("refuse"):
        graph, notes = graph_pass(graph)
    names = [p.name for p in lower_to_populations(graph)[0].populations]
    assert {"six", "six.above6", "conv6", "conv6.above6", "act6.above6", "half", "half.above0.5"} <= set(names)
    assert not any("/" in n for n in names)


def test_the_part_above_a_cap_shares_its_relus_scale(built, tmp_path):
    """relu(z - c) <= relu(z): the above-cap population takes (at least) its ReLU's scale, not the percentile of
    its rare positive values (which made its weights too large for sigma-delta's 16-bit bias)."""
    import snnc
    from snnc.runtime.artifact import load_artifact

    _, folder, _, _ = built["capped_relu"]
    snnc.compile(folder / "capped_relu.keras", calibration=folder / "cal.npz", output=tmp_path / "c.snn",
                 coding="sigma-delta")
    scales = load_artifact(tmp_path / "c.snn").manifest.scales
    for base, above in [("six", "six.above6"), ("conv6", "conv6.above6"), ("half", "half.above0.5")]:
        assert scales[above] >= scales[base], (base, scales[base], scales[above])


@pytest.mark.parametrize("name,suffix", CASES)
def test_cli_compile_and_evaluate_ann_accuracy_matches_keras(built, name, suffix, tmp_path, capsys):
    _, folder, x, y = built[name]
    out = tmp_path / f"{name}.snn"
    assert main(["compile", str(folder / f"{name}{suffix}"), "--calibration", str(folder / "cal.npz"),
                 "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(folder / "test.npz"), "--timesteps", "64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == len(y) > 0 and len(set(y.tolist())) > 1
    assert result["ann_accuracy"] == 1.0  # Keras's accuracy on its own argmax labels


def test_maxpool1d_float_graph_equals_keras(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((12, 2)), L.Conv1D(3, 3, activation="relu"),
                                         L.MaxPooling1D(2), L.Flatten(), L.Dense(2)]), 8)
    x = _inputs(model, 8, 12)
    graph = load_model_graph(_save(model, tmp_path, ".keras"))
    assert [type(layer.op).__name__ for layer in graph.layers][3] == "MaxPool"
    np.testing.assert_allclose(np.asarray(graph.forward(x)[graph.output.name]), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


# ---- refusals of constructs the frontend does not compile ---------------------------------------

def _run_refused(path, tmp_path, capsys, *extra):
    out = tmp_path / "out.snn"
    code = main(["compile", str(path), "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("snnc: error:"), err
    assert "Traceback" not in err and not out.exists()
    return err


def _save(model, tmp_path, suffix=".keras", name="m"):
    path = tmp_path / f"{name}{suffix}"
    model.save(path)
    return path


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_refused_constructs_name_the_layer(tmp_path, capsys, suffix):
    inp = keras.Input((8,))
    inner = keras.Model(k_in := keras.Input((8,)), L.Dense(4, name="inner_dense")(k_in), name="inner")
    cases = {
        "nested": (keras.Model(inp, L.Dense(2)(inner(inp))), "'inner'"),
        # .h5 drops the module: Keras reads the op as an Add layer and fails to load it
        "ops": (keras.Model(inp, L.Dense(2)(keras.ops.add(L.Dense(8)(inp), inp))),
                "not a Keras layer" if suffix == ".keras" else "could not load"),
        "causal": (keras.Sequential([keras.Input((8, 2)), L.Conv1D(2, 3, padding="causal", name="cz"), L.Flatten(),
                                     L.Dense(2)]), "padding='causal'"),
        "slope": (keras.Sequential([keras.Input((8,)), L.Dense(4), L.ReLU(negative_slope=0.1, name="leaky"), L.Dense(2)]),
                  "negative_slope"),
        "threshold": (keras.Sequential([keras.Input((8,)), L.Dense(4), L.ReLU(threshold=0.5, name="thr"), L.Dense(2)]),
                      "threshold"),
        "dilation": (keras.Sequential([keras.Input((8, 2)), L.Conv1D(2, 3, dilation_rate=2, name="dil"), L.Flatten(),
                                       L.Dense(2)]), "dilation_rate"),
    }
    for case, (model, expected) in cases.items():
        err = _run_refused(_save(model, tmp_path, suffix, case), tmp_path, capsys)
        assert expected in err and ("layer" in err or case == "ops"), (case, err)


def test_walk_refuses_what_the_config_check_cannot_see():
    """Models handed to keras_to_graph directly (no file): the node walk names the layer. Calls
    Keras cannot build (a tensor from another graph, a Dense on two tensors) are made by rewiring
    a node's arguments."""
    from keras.src.ops.symbolic_arguments import SymbolicArguments

    from snnc.compiler.frontend.keras import keras_to_graph
    from snnc.errors import SnncError

    inp = keras.Input((8,))
    inner = keras.Model(k_in := keras.Input((8,)), L.Dense(4)(k_in), name="inner")
    with pytest.raises(SnncError, match="'inner'.*nested model"):
        keras_to_graph(keras.Model(inp, L.Dense(2)(inner(inp))))
    with pytest.raises(SnncError, match="not a Keras layer"):
        keras_to_graph(keras.Model(inp, keras.ops.add(L.Dense(8)(inp), inp)))

    def rewired(name, *tensors):
        x = keras.Input((8,))
        model = keras.Model(x, L.Dense(2, name=name)(L.Dense(8)(x)))
        model.get_layer(name)._inbound_nodes[0].arguments = SymbolicArguments(*tensors)
        return model

    stranger = L.Dense(8, name="stranger")(keras.Input((8,)))
    with pytest.raises(SnncError, match="'late'.*outside the model"):
        keras_to_graph(rewired("late", stranger))
    x = keras.Input((8,))
    with pytest.raises(SnncError, match="'pair'.*takes one input"):
        model = keras.Model(x, L.Dense(2, name="pair")(h := L.Dense(8)(x)))
        model.get_layer("pair")._inbound_nodes[0].arguments = SymbolicArguments([h, h])
        keras_to_graph(model)


# ---- crafted and malformed files ----------------------------------------------------------------

def _base(tmp_path, suffix):
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3, activation="relu", name="conv"), L.Flatten(),
                              L.Dense(3, name="dense")])
    return _save(model, tmp_path, suffix, "base")


def _read_config(path):
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["model_config"])


def _write_config(path, target, text):
    """A copy of the model file at target whose model config is `text`."""
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, text if item.filename == "config.json" else src.read(item))
    else:
        target.write_bytes(path.read_bytes())
        with h5py.File(target, "r+") as f:
            f.attrs["model_config"] = text
    return target


def _layer(config, name):
    return next(l for l in config["config"]["layers"] if l["config"].get("name") == name)


def _mutations():
    """name -> function(model config) -> model config (or raw text)."""
    def edit(name, change):
        def apply(config):
            change(_layer(config, name))
            return config
        return apply

    def set_layers(value):
        def apply(config):
            config["config"]["layers"] = value
            return config
        return apply

    return {
        "activation dict with string config": edit("conv", lambda l: l["config"].update(
            activation={"module": "builtins", "class_name": "function", "config": "Custom>evil", "registered_name": "f"})),
        "activation odd dict": edit("conv", lambda l: l["config"].update(activation={"config": 5})),
        "activation list": edit("conv", lambda l: l["config"].update(activation=["relu"])),
        "activation from another module": edit("conv", lambda l: l["config"].update(
            activation={"module": "os", "class_name": "function", "config": "relu"})),
        "no class_name": edit("conv", lambda l: l.pop("class_name")),
        "class_name a list": edit("conv", lambda l: l.update(class_name=["Conv2D"])),
        "no config": edit("conv", lambda l: l.pop("config")),
        "config a string": lambda c: (c["config"]["layers"][1].update(config="conv"), c)[1],
        "layer a string": lambda c: (c["config"]["layers"].__setitem__(1, "Conv2D"), c)[1],
        "layers a string": set_layers("Conv2D, Dense"),
        "layers a dict": set_layers({"conv": {}}),
        "no layers": lambda c: (c["config"].pop("layers"), c)[1],
        "config not an object": lambda c: (c.update(config=[1, 2]), c)[1],
        "model a list": lambda c: [c],
        "model class odd": lambda c: (c.update(class_name={"x": 1}), c)[1],
        "dilation a string": edit("conv", lambda l: l["config"].update(dilation_rate="2")),
        "data_format a number": edit("conv", lambda l: l["config"].update(data_format=5)),
        "kernel_size a dict": edit("conv", lambda l: l["config"].update(kernel_size={"a": 1})),
        "units a string": edit("dense", lambda l: l["config"].update(units="three")),
        "padding a number": edit("conv", lambda l: l["config"].update(padding=7)),
        "kernel_size negative": edit("conv", lambda l: l["config"].update(kernel_size=[-3, 3])),
        "strides a string": edit("conv", lambda l: l["config"].update(strides="x")),
        "layer from ops module": edit("dense", lambda l: l.update(module="keras.src.ops.numpy")),
        "layer from another module": edit("dense", lambda l: l.update(module="os.path")),
        "not JSON": lambda c: "{not json",
        "JSON number": lambda c: "42",
        "deep JSON": lambda c: "[" * 100000 + "]" * 100000,
    }


MUTATIONS = _mutations()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("case", list(MUTATIONS))
def test_malformed_model_config_exits_2(tmp_path, capsys, suffix, case):
    base = _base(tmp_path, suffix)
    mutated = MUTATIONS[case](_read_config(base))
    text = mutated if isinstance(mutated, str) else json.dumps(mutated)
    path = _write_config(base, tmp_path / f"bad{suffix}", text)
    err = _run_refused(path, tmp_path, capsys)
    assert "layer" in err or str(path) in err


def test_relu_config_values_of_the_wrong_type(tmp_path, capsys):
    base = _save(keras.Sequential([keras.Input((4,)), L.Dense(4), L.ReLU(name="r"), L.Dense(2)]), tmp_path, ".h5", "r")
    for key, value in [("max_value", "six"), ("negative_slope", [1]), ("threshold", "0"), ("max_value", -1),
                       ("max_value", float("nan"))]:
        config = _read_config(base)
        _layer(config, "r")["config"][key] = value
        path = _write_config(base, tmp_path / "bad.h5", json.dumps(config))
        assert key in _run_refused(path, tmp_path, capsys)


def test_average_pooling_with_overhanging_windows_is_refused_with_its_reason(tmp_path):
    """Inception's pool branch, AveragePooling2D(3, strides=1, padding='same'): every border window
    overhangs, and Keras divides it by its real inputs only."""
    from snnc.errors import SnncError

    model = keras.Sequential([keras.Input((6, 6, 2)), L.AveragePooling2D(3, strides=1, padding="same", name="pool"),
                              L.Flatten(), L.Dense(3)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(SnncError, match="'pool'.*3x3 windows at stride 1x1 overhang the 6x6 input.*real inputs only"):
        load_model_graph(tmp_path / "m.keras")
