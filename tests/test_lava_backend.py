"""The Lava backend against the JAX reference: every u, v and spike, every population, every step,
exact. Plus the verify contract's ability to fail, and the Lava process lifecycle."""

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIF
from numpy.testing import assert_array_equal

import numpy_reference as ref
from lava_nets import random_input_bias, random_lava_net
from snnc.backends.jax.simulator import trace
from snnc.backends.lava.build import checked
from snnc.backends.lava.runner import lava_trace
from snnc.compiler.ir.spiking import ConvGeometry, InputEncoding, LifPopulation, Projection, SpikeInput, SpikingNet
from snnc.errors import SnncError
from snnc.runtime.compare import Divergence, compare
from snnc.targets import LOIHI2

STEPS = 16
COMPARED = []  # values compared per Lava run, reported by test_report_values_compared


def assert_traces_equal(want, got):
    """Every variable Lava has (all but a host spike source's u and v) equals the JAX reference."""
    assert got.populations == want.populations
    for kind in "uvs":
        for name, x in getattr(got, kind).items():
            assert_array_equal(x, getattr(want, kind)[name], err_msg=f"{kind} of {name}")
    COMPARED.append(sum(x.size for k in "uvs" for x in getattr(got, k).values()))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 31))
def test_lava_equals_jax_on_random_networks(seed):
    net = random_lava_net(seed)
    bias = random_input_bias(net, seed)
    assert_traces_equal(trace(net, LOIHI2, bias, STEPS), lava_trace(net, bias, STEPS))


@pytest.mark.parametrize("seed", [19, 24])
def test_lava_equals_jax_through_u_wrap_and_v_saturation(seed):
    net = random_lava_net(seed)
    bias = random_input_bias(net, seed)
    want = trace(net, LOIHI2, bias, STEPS)
    wraps = sum(int((np.abs(np.diff(want.u[n].astype(np.int64), axis=0)) > 2 ** 23).sum()) for n in want.populations)
    saturated = sum(int((np.abs(want.v[n]) == 2 ** 23 - 1).sum()) for n in want.populations)
    assert wraps > 0 and saturated > 0  # the edges this case exists for are reached
    assert_traces_equal(want, lava_trace(net, bias, STEPS))


def _pop(name, shape, role, vth, du, bias_mant=0):
    return LifPopulation(name, shape, role, vth, np.full(shape, bias_mant, np.int32), 0, 0, du, 0, 1.0, name)


def hand_net(weight_00=10, input_vth=100, hidden_du=2047) -> SpikingNet:
    """input (2, 2, 1) integrate-and-fire, V = 100 << 6 = 6400 -> dense -> h (3,), du 2047 -> output.
    With input biases [3201, 1000, 0, 0]: input neuron 0 reaches 6402 > 6400 at step 2 and spikes."""
    pops = (_pop("input", (2, 2, 1), "input", input_vth, 4095), _pop("h", (3,), "hidden", 50, hidden_du),
            _pop("output", (2,), "output", LOIHI2.vth_max, 4095))
    w = np.array([[weight_00, 20, 30, 40], [5, 5, 5, 5], [0, 255, 0, 0]], np.int32)
    projections = (Projection("input", "h", w), Projection("h", "output", np.array([[1, 2, 3], [4, 5, 6]], np.int32)))
    return SpikingNet(pops, projections, InputEncoding(1.0, 4095))


HAND_BIAS = np.array([[[[3201], [1000]], [[0], [0]]]], np.int32)


@pytest.fixture(scope="module")
def hand_lava():
    return lava_trace(hand_net(), HAND_BIAS, 8)


def test_unperturbed_hand_network_is_bit_exact(hand_lava):
    assert compare(trace(hand_net(), LOIHI2, HAND_BIAS, 8), hand_lava).bit_exact


@pytest.mark.parametrize("perturbed, expected", [
    # one weight +1: input neuron 0 spikes at step 2, its synapse delivers at step 3: u += 1 << 6
    (hand_net(weight_00=11), Divergence("h", "u", 3, 0, (0,), 11 * 64, 10 * 64)),
    # threshold +1: v = 6402 no longer exceeds 101 << 6 = 6464 at step 2: no spike, no reset
    (hand_net(input_vth=101), Divergence("input", "v", 2, 0, (0, 0, 0), 6402, 0)),
    # du +1: at step 4 u = 640 decays by (4096 - 2049) / 4096 to 319.8 -> 319 instead of by 2048 / 4096 to 320
    (hand_net(hidden_du=2048), Divergence("h", "u", 4, 0, (0,), 319, 320)),
])
def test_verify_reports_the_exact_first_divergence(hand_lava, perturbed, expected):
    result = compare(trace(perturbed, LOIHI2, HAND_BIAS, 8), hand_lava)
    assert not result.bit_exact
    assert result.first == expected
    assert result.total_differing >= 1


def test_hardware_rule_skips_voltage_only_on_spike_steps(hand_lava):
    """Loihi reads back a placeholder v on a spike step: that v alone is not compared."""
    other = type(hand_lava)(hand_lava.u, {k: v.copy() for k, v in hand_lava.v.items()}, hand_lava.s)
    t, index = np.argwhere(hand_lava.s["input"])[0][0], tuple(np.argwhere(hand_lava.s["input"])[0][1:])
    other.v["input"][t][index] = 128
    reference = trace(hand_net(), LOIHI2, HAND_BIAS, 8)
    assert compare(reference, other, voltage_on_spike=False).bit_exact
    assert compare(reference, other).first.variable == "v"
    other.v["input"][0, 0, 1, 1, 0] = 7  # a non-spike step still counts under the hardware rule
    assert not compare(reference, other, voltage_on_spike=False).bit_exact


def test_keywords_lava_would_ignore_are_refused():
    weights = np.eye(2, dtype=np.int32)
    assert checked(Dense, {"weights": weights, "weight_exp": 1}).proc_params["weight_exp"] == 1
    with pytest.raises(TypeError, match="weigth_exp"):
        checked(Dense, {"weights": weights, "weigth_exp": 1})
    with pytest.raises(TypeError, match="v_th"):
        checked(LIF, {"shape": (2,), "v_th": 3})


def test_error_inside_a_lava_process_is_reported_not_lavas_summary():
    """A float threshold makes Lava's LIF model raise in its worker process at step 1; Lava itself
    would only log it and wait forever on the other workers."""
    net = hand_net()
    broken = SpikingNet((dataclasses.replace(net.populations[0], vth=1.5), *net.populations[1:]), net.projections,
                        net.encoding)
    with pytest.raises(SnncError, match="the Lava run failed: TypeError: ufunc 'left_shift'"):
        lava_trace(broken, HAND_BIAS, 4, timeout=120)


def test_hung_run_is_stopped():
    with pytest.raises(SnncError, match="did not finish within 0.5 s"):
        lava_trace(hand_net(), HAND_BIAS, 200000, timeout=0.5)


def test_loihi_hardware_backend_without_lava_loihi_is_a_clear_error():
    with pytest.raises(SnncError, match="lava-loihi"):
        lava_trace(hand_net(), HAND_BIAS, 4, backend="loihi2-hw")


def within_24_bits(t) -> bool:
    return all(np.abs(t.u[n]).max() < 2 ** 23 and np.abs(t.v[n]).max() < 2 ** 23 for n in t.populations)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.integers(0, 2 ** 31))
def test_sigma_delta_lava_equals_jax_equals_numpy(seed):
    net = random_lava_net(seed, neuron="sigma-delta")
    bias = random_input_bias(net, seed)
    want = trace(net, LOIHI2, bias, STEPS)
    assume(within_24_bits(want))
    for b in range(len(bias)):
        reference = ref.simulate(net, bias[b], STEPS)
        for kind in "uvs":
            for name in want.populations:
                assert_array_equal(getattr(want, kind)[name][:, b], reference[kind][name], err_msg=f"{kind} of {name}")
    assert_traces_equal(want, lava_trace(net, bias, STEPS))
    assert any(np.abs(want.s[n]).max() > 1 for n in want.populations)  # graded payloads, not just 0/1


def test_host_spike_trains_reach_lava_through_a_ring_buffer():
    """A SpikeInput fires round(m t / 4096) times by step t, in JAX and in Lava alike."""
    net = hand_net()
    source = SpikeInput("input", (2, 2, 1), "input", 4096, 1.0, "input")
    net = SpikingNet((source, *net.populations[1:]), net.projections, net.encoding)
    want = trace(net, LOIHI2, HAND_BIAS, 8)
    counts = want.s["input"].sum(axis=0)[0, :, :, 0]
    assert_array_equal(counts, np.floor((HAND_BIAS[0, :, :, 0] * 8 + 2048) / 4096))
    got = lava_trace(net, HAND_BIAS, 8)
    assert set(got.u) == {"h", "output"}  # the source has no u, v on the chip
    assert_traces_equal(want, got)


def test_report_values_compared():
    """Not a check: prints how many values the Lava property tests compared (run with -s)."""
    print(f"\nLava == JAX: {sum(COMPARED)} values compared in {len(COMPARED)} runs")


def test_a_convolution_of_128_groups_reaches_lava():
    """Lava's Conv holds groups as int8: 128 groups would wrap to -128 and deliver nothing, so such a
    convolution runs as a Sparse process (a 128-channel depthwise pooling, VGG's second block)."""
    rng = np.random.default_rng(0)
    shape = (2, 2, 128)
    pops = (SpikeInput("input", (4, 4, 128), "input", 4096, 1.0, "input"), _pop("pool", shape, "hidden", 60, 4095),
            _pop("output", (3,), "output", 100, 4095))
    pooling = ConvGeometry((2, 2), ((0, 0), (0, 0)), 128)
    projections = (Projection("input", "pool", np.full((2, 2, 1, 128), 40, np.int32), pooling),
                   Projection("pool", "output", 2 * rng.integers(-25, 25, (3, 512)).astype(np.int32)))
    net = SpikingNet(pops, projections, InputEncoding(1.0, 4095))
    bias = rng.integers(0, 4097, (1, 4, 4, 128)).astype(np.int32)
    want = trace(net, LOIHI2, bias, 8)
    assert want.s["pool"].any()
    assert_traces_equal(want, lava_trace(net, bias, 8))
