"""Fan-in beyond the target's limit is split into partial sums carried by relay populations: the
ANN is the same function, every population fits, and the compiled network runs bit-exact on Lava."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from helpers import FIXTURES
from snnc.compiler.ir.spiking import ConvGeometry, FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.check_limits import fan_in_violations
from snnc.compiler.passes.split_fan_in import RESERVED, split_fan_in
from snnc.compiler.resources import fan_in
from snnc.targets import LOIHI2


def wide_net(seed: int) -> FloatNet:
    """input 6x6x8 -> conv 3x3 (72 synapses per neuron) -> 6x6x5 -> dense (180 + a 24-synapse skip
    from a second conv) -> output 4."""
    rng = np.random.default_rng(seed)
    f32 = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)  # noqa: E731
    same = ConvGeometry((1, 1), ((1, 1), (1, 1)), 1)
    pops = (FloatPopulation("input", (6, 6, 8), "input", np.zeros((6, 6, 8), np.float32), "input"),
            FloatPopulation("conv", (6, 6, 5), "hidden", f32(6, 6, 5), "conv"),
            FloatPopulation("side", (2, 2, 6), "hidden", f32(2, 2, 6), "side"),
            FloatPopulation("output", (4,), "output", f32(4), "output"))
    projections = (Projection("input", "conv", f32(3, 3, 8, 5), same),
                   Projection("input", "side", f32(3, 3, 8, 6), ConvGeometry((3, 3), ((0, 0), (0, 0)), 1)),
                   Projection("conv", "output", f32(4, 180)), Projection("side", "output", f32(4, 24)))
    return FloatNet(pops, projections)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("max_fan_in", [40, 80, 150])
def test_split_net_is_the_same_ann_and_fits(seed, max_fan_in):
    net, target = wide_net(seed), LOIHI2.model_copy(update=dict(max_fan_in=max_fan_in))
    split, notes = split_fan_in(net, target)
    assert fan_in_violations(net, target) and not fan_in_violations(split, target)
    assert notes and len(split.populations) == len(net.populations) + 2 * len(notes)  # two relays per split
    for pop in split.populations:
        assert sum(fan_in(q) for q in split.incoming(pop.name)) <= max_fan_in - RESERVED, pop.name
    x = np.random.default_rng(seed).uniform(0, 1, (16, 6, 6, 8)).astype(np.float32)
    before, after = net.forward(x), split.forward(x)
    for pop in net.populations:
        assert_allclose(after[pop.name], before[pop.name], rtol=1e-5, atol=1e-5)


def test_two_wide_projections_into_one_population_are_both_split():
    """An output reading two 100-neuron populations (a ReLU6's two halves, say) at 60 synapses per
    neuron: the widest split alone leaves 104, so the next is split too; the same ANN."""
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)  # noqa: E731
    pops = (FloatPopulation("input", (50,), "input", np.zeros(50, np.float32), "input"),
            FloatPopulation("a", (100,), "hidden", f32(100), "a"), FloatPopulation("b", (100,), "hidden", f32(100), "b"),
            FloatPopulation("output", (4,), "output", f32(4), "output"))
    net = FloatNet(pops, (Projection("input", "a", f32(100, 50)), Projection("input", "b", f32(100, 50)),
                          Projection("a", "output", f32(4, 100)), Projection("b", "output", f32(4, 100))))
    target = LOIHI2.model_copy(update=dict(max_fan_in=60))
    split, notes = split_fan_in(net, target)
    assert len(notes) == 2 and not fan_in_violations(split, target), notes
    assert {p.name for p in split.populations} >= {"output_part_pos", "output_part2_neg"}
    x = rng.uniform(0, 1, (16, 50)).astype(np.float32)
    assert_allclose(split.forward(x)["output"], net.forward(x)["output"], rtol=1e-5, atol=1e-5)


def test_fan_in_counts_the_synapses_a_kernel_has():
    """A zero weight is no synapse: a conv's fan-in is the most nonzero taps any output channel reads."""
    kernel = np.zeros((3, 3, 8, 4), np.float32)
    kernel[:, :, :2, 0], kernel[1, 1, :, 1] = 1.0, -2.0  # 18 taps, 8 taps, and two empty channels
    assert fan_in(Projection("a", "b", kernel, ConvGeometry((1, 1), ((1, 1), (1, 1)), 1))) == 18
    grouped = Projection("a", "b", np.ones((3, 3, 2, 4), np.float32), ConvGeometry((1, 1), ((1, 1), (1, 1)), 4))
    assert fan_in(grouped) == 18


def test_a_wide_layer_of_many_channels_is_split():
    """40 output channels: the relays' sum reads 2 x 40 channels but only 2 synapses per neuron, so
    it fits (counted as its kernel, 80 per relay, it did not: a MobileNet's 256-channel separable
    conv was refused for population coding)."""
    rng = np.random.default_rng(0)
    same = ConvGeometry((1, 1), ((1, 1), (1, 1)), 1)
    net = FloatNet((FloatPopulation("input", (6, 6, 8), "input", np.zeros((6, 6, 8), np.float32), "input"),
                    FloatPopulation("conv", (6, 6, 40), "hidden", np.zeros((6, 6, 40), np.float32), "conv"),
                    FloatPopulation("output", (3,), "output", np.zeros(3, np.float32), "output")),
                   (Projection("input", "conv", rng.normal(0, 0.5, (3, 3, 8, 40)).astype(np.float32), same),
                    Projection("conv", "output", rng.normal(0, 0.5, (3, 1440)).astype(np.float32))))
    target = LOIHI2.model_copy(update=dict(max_fan_in=40))
    split, _ = split_fan_in(net, target)
    assert not [v for v in fan_in_violations(split, target) if "'conv'" in v]
    x = rng.uniform(0, 1, (4, 6, 6, 8)).astype(np.float32)
    assert_allclose(split.forward(x)["conv"], net.forward(x)["conv"], rtol=1e-5, atol=1e-5)


def test_a_split_that_cannot_fit_is_left_for_the_refusal():
    """With 8 input channels and at most 8 synapses per neuron, no channel split of a 3x3 kernel fits."""
    net, target = wide_net(0), LOIHI2.model_copy(update=dict(max_fan_in=10))
    split, _ = split_fan_in(net, target)
    assert any("'conv'" in v for v in fan_in_violations(split, target))


@pytest.mark.parametrize("coding", ["rate", "sigma-delta"])
def test_split_lenet_compiles_and_verifies_bit_exact(data, tmp_path, coding):
    import snnc

    target = tmp_path / "narrow.json"
    target.write_text(LOIHI2.model_copy(update=dict(name="narrow", max_fan_in=70)).model_dump_json())
    out = tmp_path / "lenet.snn"
    result = snnc.compile(FIXTURES / "lenet.h5", target=str(target), calibration=data[0], output=out, coding=coding)
    assert any("partial sums" in n for n in result.notes)
    assert any(p.name.endswith("_part_neg") for p in result.network.populations)
    assert snnc.verify(out, data[1], samples=2, timesteps=12).bit_exact
    accuracy = snnc.evaluate(out, data[1], timesteps=(32,)).results[-1].accuracy
    assert accuracy > 0.85
