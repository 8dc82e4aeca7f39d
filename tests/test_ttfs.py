"""Time-to-first-spike coding (compiler/passes/quantize_ttfs.py): random layered networks with max
pooling run the same in JAX, in a plain numpy model and in Lava, every u, v and spike; every
neuron spikes at most once (inputs exactly once); the digits models (max pooling included) keep
the ANN's accuracy; networks that are not layered are refused."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from helpers import FIXTURES
from lava_nets import assert_jax_equals_numpy_equals_lava
from snnc.api import compile as compile_model, evaluate, report
from snnc.backends.jax.simulator import trace
from snnc.compiler.ir.spiking import ConvGeometry, FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.quantize_ttfs import TtfsCoding, quantize_ttfs
from snnc.errors import SnncError
from snnc.targets import LOIHI2


def random_ttfs_net(seed: int, timesteps: int = 24):
    """random_float_net quantized for TTFS at `timesteps`, and an input drive for 2 samples."""
    net, _ = _quantized(seed, timesteps)
    drive = np.random.default_rng(seed + 1).integers(0, LOIHI2.input_full + 1, (2, 6, 6, 2)).astype(np.int32)
    return net, drive


def _quantized(seed: int, timesteps: int):
    float_net, scales = random_float_net(seed)
    return quantize_ttfs(float_net, LOIHI2, scales, TtfsCoding(timesteps))


def random_float_net(seed: int) -> tuple[FloatNet, dict[str, float]]:
    """input 6x6x2 -> conv 3x3 (3 channels, ReLU) -> max pool 2x2 -> dense 6 (ReLU) -> dense 4
    (output), random weights, biases and scales."""
    rng = np.random.default_rng(seed)
    f32 = lambda *shape, scale=1.0: (rng.normal(0, scale, shape)).astype(np.float32)  # noqa: E731
    pops = (FloatPopulation("input", (6, 6, 2), "input", np.zeros((6, 6, 2), np.float32), "input"),
            FloatPopulation("conv", (6, 6, 3), "hidden", f32(6, 6, 3, scale=0.1), "conv"),
            FloatPopulation("pool", (3, 3, 3), "max", np.zeros((3, 3, 3), np.float32), "pool"),
            FloatPopulation("dense", (6,), "hidden", f32(6, scale=0.1), "dense"),
            FloatPopulation("output", (4,), "output", f32(4, scale=0.1), "output"))
    projections = (Projection("input", "conv", f32(3, 3, 2, 3, scale=0.5), ConvGeometry((1, 1), ((1, 1), (1, 1)), 1)),
                   Projection("conv", "pool", np.ones((2, 2, 1, 3), np.float32), ConvGeometry((2, 2), ((0, 0), (0, 0)), 3)),
                   Projection("pool", "dense", f32(6, 27, scale=0.5)),
                   Projection("dense", "output", f32(4, 6, scale=0.5)))
    scales = {"input": 1.0, "conv": float(rng.uniform(0.5, 2)), "pool": 1.0, "dense": float(rng.uniform(0.5, 2)),
              "output": float(rng.uniform(0.5, 2))}
    return FloatNet(pops, projections), scales


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 31))
def test_ttfs_jax_equals_numpy_equals_lava(seed):
    net, drive = random_ttfs_net(seed)
    steps = net.output.read_step + 2
    spikes = trace(net, LOIHI2, drive, steps).s
    assume(spikes["dense"].any() and spikes["conv"].any())  # random weights can leave a layer silent: test less
    assert_jax_equals_numpy_equals_lava(net, drive, steps)


@pytest.mark.parametrize("seed", range(4))
def test_every_neuron_spikes_at_most_once(seed):
    net, drive = random_ttfs_net(seed, timesteps=40)
    spikes = trace(net, LOIHI2, drive, 3 * net.output.read_step).s  # long after the answer
    assert (spikes["input"].sum(axis=0) == 1).all()  # every input once, zeros included ("forced")
    assert (spikes["conv"].sum(axis=0) == 1).all()  # read by a max pooling: zeros forced
    assert (spikes["pool"].sum(axis=0) == 1).all()  # the first spike of each window, exactly once
    assert spikes["dense"].sum(axis=0).max() <= 1  # the last hidden layer: zeros stay silent
    assert not spikes["output"].any()


def test_windows_too_short_for_the_depth_are_noted_with_the_t_that_widens_them():
    few = _quantized(0, 20)[1]
    assert any("windows of 5 steps carry 6 levels" in n and "--timesteps-hint 52 gives windows of 16" in n for n in few)
    assert random_ttfs_net(0, timesteps=52)[0].output.read_step == 52
    assert not any("too few" in n for n in _quantized(0, 40)[1])


def test_each_population_has_its_own_clock_of_its_own_events():
    """A clock source per population it feeds, every clock neuron used by it (no zero columns: one
    shared clock gave every population a matrix over every layer's events)."""
    net, _ = random_ttfs_net(0)
    clocks = [p for p in net.populations if p.kind == "clock"]
    fed = {p.name: {q.dst for q in net.projections if q.src == p.name} for p in clocks}
    assert all(len(dst) == 1 for dst in fed.values()) and len(set.union(*fed.values())) == len(clocks) >= 3
    for clock in clocks:
        weights = np.concatenate([q.weight for q in net.projections if q.src == clock.name], axis=0)
        assert (weights != 0).any(axis=0).all(), clock.name


# maxpool: MaxPooling2D as first spikes; resnet (BN, Add) and depthwise: skips carried by relays
@pytest.mark.parametrize("model", ["mlp", "lenet", "maxpool", "resnet", "depthwise"])
def test_digits_models_keep_the_anns_accuracy(model, tmp_path, data):
    cal, test = data
    compile_model(FIXTURES / f"{model}.h5", calibration=cal, output=tmp_path / "m.snn", coding="ttfs")
    result = evaluate(tmp_path / "m.snn", test, (16, 64))
    assert result.results[1].accuracy >= result.ann_accuracy - 0.01
    assert any("accuracy at T = 16 is read before it" in w for w in result.warnings)  # read at a step > 16
    assert result.latency.max_steps <= 64
    rows = {layer.population: layer for layer in result.layers}
    assert rows["input"].spikes_max == 1 and max(layer.spikes_max for layer in result.layers) == 1
    index = report(tmp_path / "m.snn", test, tmp_path / "report", (64,), limit=20)  # clock and self-projections
    assert "input -> " in index.read_text()


def test_a_skip_around_a_max_pooling_is_refused():
    """Relays carry skip connections whole windows forward; around a max pooling (one step, not a
    window) no relay fits, and the population reading both is refused."""
    zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    pops = (FloatPopulation("input", (4, 4, 1), "input", zeros(4, 4, 1), "input"),
            FloatPopulation("conv", (4, 4, 2), "hidden", zeros(4, 4, 2), "conv"),
            FloatPopulation("pool", (2, 2, 2), "max", zeros(2, 2, 2), "pool"),
            FloatPopulation("output", (3,), "output", zeros(3), "output"))
    projections = (Projection("input", "conv", np.ones((3, 3, 1, 2), np.float32), ConvGeometry((1, 1), ((1, 1), (1, 1)), 1)),
                   Projection("conv", "pool", np.ones((2, 2, 1, 2), np.float32), ConvGeometry((2, 2), ((0, 0), (0, 0)), 2)),
                   Projection("pool", "output", np.ones((3, 8), np.float32)),
                   Projection("conv", "output", np.ones((3, 32), np.float32)))
    scales = {p.name: 1.0 for p in pops}
    with pytest.raises(SnncError, match="TTFS needs every input of a population in the same window"):
        quantize_ttfs(FloatNet(pops, projections), LOIHI2, scales, TtfsCoding(64))
