"""The JAX simulator against the numpy reference on random integer networks (all layers, all
steps, u, v and spikes), and the weight grid against Lava's own weight clip/truncate."""

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from numpy.testing import assert_array_equal

import numpy_reference as ref
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights
from snnc.backends.jax.simulator import readout, readout_and_counts, settled_steps, trace
from snnc.compiler.ir.spiking import ConvGeometry, InputEncoding, LifPopulation, Projection, SpikingNet
from snnc.compiler.passes.quantize import to_weight_grid
from snnc.targets import LOIHI2


def _pop(rng, name, shape, role, vth_max=256):
    return LifPopulation(name, shape, role, int(rng.integers(1, vth_max)), rng.integers(-300, 300, shape).astype(np.int32),
                         int(rng.integers(0, 8)), int(rng.integers(-2000, 2000)), int(rng.integers(-1, 4096)),
                         int(rng.integers(0, 4096)), 1.0, name)


def random_net(seed: int) -> SpikingNet:
    """input (5,5,2) -> conv 3x3 -> hidden (5,5,3) -> depthwise 2x2/2 -> (2,2,3) -> dense -> output (4),
    plus a skip from input to the output (several projections into one population)."""
    rng = np.random.default_rng(seed)
    w = lambda *shape: rng.integers(-255, 256, shape).astype(np.int32)  # noqa: E731
    pops = (_pop(rng, "input", (5, 5, 2), "input", 64), _pop(rng, "a", (5, 5, 3), "hidden"),
            _pop(rng, "b", (2, 2, 3), "hidden"), _pop(rng, "output", (4,), "output"))
    projections = (
        Projection("input", "a", w(3, 3, 2, 3), ConvGeometry((1, 1), ((1, 1), (1, 1)), 1), int(rng.integers(0, 3))),
        Projection("a", "b", w(2, 2, 1, 3), ConvGeometry((2, 2), ((0, 0), (0, 0)), 3)),
        Projection("b", "output", w(4, 12)),
        Projection("input", "output", w(4, 50), weight_exp=int(rng.integers(0, 2))),
    )
    return SpikingNet(pops, projections, InputEncoding(1.0, 4095))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 31))
def test_jax_trace_equals_numpy_reference(seed):
    net = random_net(seed)
    rng = np.random.default_rng(seed + 1)
    bias = rng.integers(0, 4096, (2, 5, 5, 2)).astype(np.int32)
    got = trace(net, LOIHI2, bias, 12)
    for b in range(2):
        want = ref.simulate(net, bias[b], 12)
        for kind in "uvs":
            for name in want[kind]:
                assert_array_equal(getattr(got, kind)[name][:, b], want[kind][name], err_msg=f"{kind} of {name}")
    spiking = sum(int(got.s[n].sum()) for n in ("input", "a", "b"))
    assert spiking > 0  # the comparison covered spikes, not only silent networks


def test_readout_is_spikes_times_threshold_plus_v():
    net = random_net(7)
    bias = np.random.default_rng(0).integers(0, 4096, (3, 5, 5, 2)).astype(np.int32)
    got = readout(net, LOIHI2, bias, (4, 9))
    t = trace(net, LOIHI2, bias, 9)
    for steps in (4, 9):
        counts = t.s["output"][:steps].sum(0).astype(np.int64)
        assert_array_equal(got[steps], counts * (net.output.vth << 6) + t.v["output"][steps - 1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-400, 400, allow_nan=False), min_size=1, max_size=40))
def test_weight_grid_is_a_fixed_point_of_lavas_dense_weight_rules(values):
    m = to_weight_grid(np.array(values), LOIHI2)
    mode = determine_sign_mode(m)
    lava = truncate_weights(clip_weights(m, mode, num_bits=8), mode, 8)
    assert_array_equal(lava, m)
    assert np.abs(m).max() <= 255


def test_readout_and_counts_is_readout_plus_the_trace_spike_counts():
    net = random_net(5)
    bias = np.random.default_rng(1).integers(0, 4096, (2, 5, 5, 2)).astype(np.int32)
    outputs, counts, settled = readout_and_counts(net, LOIHI2, bias, (3, 8))
    alone = readout(net, LOIHI2, bias, tuple(range(1, 9)))
    spikes = trace(net, LOIHI2, bias, 8).s
    for t in (3, 8):
        assert_array_equal(outputs[t], alone[t])
    for name, c in counts.items():
        assert_array_equal(c, spikes[name].sum(axis=0))
    for b, step in enumerate(settled):  # the class read at every step from `settled` on is the final one
        classes = [alone[t][b].argmax() if (alone[t][b] == alone[t][b].max()).sum() == 1 else -1 for t in range(1, 9)]
        assert all(c == classes[-1] for c in classes[step - 1:])
        assert step == 1 or classes[step - 2] != classes[-1]


def test_settled_steps_on_hand_made_readings():
    readings = np.array([[[0, 1], [5, 0], [0, 1], [0, 0]],   # step 1: classes 1, 0, 1, none (tied)
                         [[2, 1], [5, 0], [0, 1], [0, 0]],   # step 2: 0, 0, 1, none
                         [[0, 3], [5, 0], [1, 0], [4, 0]]])  # step 3: 1, 0, 0, 0
    assert_array_equal(settled_steps(readings), [3, 1, 3, 3])
    assert_array_equal(settled_steps(readings[:2]), [2, 1, 1, 1])
