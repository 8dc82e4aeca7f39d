"""The simulator's readout runs the network layer by layer (each population over all T steps at
once, in chunks of samples); the trace steps the whole network one step at a time. Both must give
the same integers: the output's reading at every step and every neuron's spike count, for every
neuron kind, self-projections, host sources and kernels that overhang their maps."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from lava_nets import random_input_bias, random_lava_net
from test_calibration import overhanging_net
from test_reset_by_subtraction import random_rate_net
from test_simulator_exact import random_net
from test_ttfs import random_ttfs_net
from snnc.backends.jax import simulator
from snnc.targets import LOIHI2

STEPS = 24


def stepped_readings(net, drive, steps):
    """The output's reading at every step 1..steps and every population's spikes (T, B, *shape),
    stepping the whole network one step at a time (the trace's _step), without jit."""
    knet, states = simulator._kernels(net), simulator._initial(net, len(drive))
    drive = np.asarray(drive, np.int32)
    readings, counts, spikes = [], np.zeros((len(drive), *net.output.shape), np.int64), []
    for _ in range(steps):
        states = simulator._step(knet, LOIHI2, drive, states)
        counts = counts + np.asarray(simulator._fired(states[-1].s))
        readings.append(net.output.readout(np.asarray(net.output.reading(states[-1]), np.int64), counts, LOIHI2))
        spikes.append([np.asarray(simulator._fired(s.s)) for s in states])
    return readings, {p.name: np.stack([s[i] for s in spikes]) for i, p in enumerate(net.populations)}


def _net(family: str, seed: int):
    if family in ("lava-lif", "lava-sigma-delta", "lava-lif-reset"):
        net = random_lava_net(seed, family.removeprefix("lava-"))
        return net, random_input_bias(net, seed, batch=5)
    if family in ("exact", "overhanging"):
        net = (random_net if family == "exact" else overhanging_net)(seed)
        return net, random_input_bias(net, seed, batch=5)
    return (random_rate_net if family == "subtract" else random_ttfs_net)(seed)


@pytest.mark.parametrize("seed", range(1, 4))
@pytest.mark.parametrize("family", ["lava-lif", "lava-sigma-delta", "lava-lif-reset", "exact", "overhanging", "subtract",
                                    "ttfs"])
def test_layer_by_layer_readout_is_the_whole_network_stepped(family, seed, monkeypatch):
    net, drive = _net(family, seed)
    readings, spikes = stepped_readings(net, drive, STEPS)
    assert sum(int(spikes[p.name].sum()) for p in net.populations[1:] if p.on_chip) > 0  # not a silent net
    two_rows = 2 * 4 * STEPS * max(p.size for p in net.populations)  # chunks of two samples: of five, the last padded
    for layer_bytes in (simulator.LAYER_BYTES, 1, two_rows):  # one chunk; one sample per chunk; two
        monkeypatch.setattr(simulator, "LAYER_BYTES", layer_bytes)
        out, counts, _ = simulator.readout_and_counts(net, LOIHI2, drive, tuple(range(1, STEPS + 1)))
        for t in range(1, STEPS + 1):
            assert_array_equal(out[t], readings[t - 1], err_msg=f"reading at step {t}")
        for name, c in counts.items():
            assert_array_equal(c, spikes[name].sum(axis=0), err_msg=f"spikes of {name}")
        for name, c in simulator.neuron_spike_counts(net, LOIHI2, drive, STEPS, start=9).items():
            assert_array_equal(c, spikes[name][8:].sum(axis=0), err_msg=f"spikes of {name} from step 9")


def _graded_projection(geometry: str, rng, weight=None):
    """A projection from (6, 6, 64) payloads with 8-bit weights (random, or all `weight`), and its shapes."""
    from snnc.compiler.ir.spiking import ConvGeometry, Projection

    src, dst = (6, 6, 64), {"conv": (6, 6, 5), "strided": (2, 2, 5), "dense": (7,)}[geometry]
    k, stride, pad = (3, 1, 1) if geometry == "conv" else (6, 2, 1)
    shape = (7, 6 * 6 * 64) if geometry == "dense" else (k, k, 64, 5)
    w = rng.integers(-255, 256, shape) if weight is None else np.full(shape, weight)
    conv = None if geometry == "dense" else ConvGeometry((stride, stride), ((pad, pad), (pad, pad)), 1)
    return Projection("a", "b", w.astype(np.int32), conv), src, dst


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("geometry", ["conv", "strided", "dense"])
def test_graded_payloads_in_float_pieces_equal_the_int32_kernel(geometry, seed):
    """Any int32 payload, the extremes included, with 8-bit weights: the sum wraps exactly as the
    int32 kernel's does."""
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    q, src, dst = _graded_projection(geometry, rng)
    x = rng.integers(-2 ** 31, 2 ** 31, (3, *src), dtype=np.int64).astype(np.int32)
    x[0, 0, 0, :4] = [-2 ** 31, 2 ** 31 - 1, -1, 0]
    x[1] = rng.integers(-300, 300, src)  # small payloads, as sigma-delta sends
    assert_array_equal(simulator._graded(q, jnp.asarray(x), src, dst), q.apply(jnp.asarray(x), src, dst))


@pytest.mark.parametrize("geometry", ["conv", "strided", "dense"])
def test_payloads_of_every_range_in_as_few_pieces_as_they_need(geometry):
    """_graded applies only the pieces a call's largest payload needs (k pieces of b bits hold
    [-2^(bk - 1), 2^(bk - 1))): exact at each count's edges and one past them, also with every
    weight at +-255 and every payload at an edge (the float32 sums at their bound)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(7)
    q, src, dst = _graded_projection(geometry, rng)
    pieces, kernel = jax.jit(lambda q, x: simulator._graded(q, x, src, dst)), jax.jit(lambda q, x: q.apply(x, src, dst))
    fan_in = q.weight.shape[1] if q.conv is None else int(np.prod(q.weight.shape[:3]))
    bits = int(np.log2((1 << 24) // (fan_in * 255) + 1))
    extremes = [_graded_projection(geometry, rng, weight)[0] for weight in (255, -255)]
    for k in range(1, -(-32 // bits)):
        edge = 1 << (bits * k - 1)
        for low, high in ((-edge, edge - 1), (-edge - 1, edge - 1), (-edge, edge)):
            x = rng.integers(low, high + 1, (2, *src), dtype=np.int64).astype(np.int32)
            x[0, 0, 0, :2] = [low, high]
            assert_array_equal(pieces(q, x), kernel(q, x), err_msg=f"{bits}-bit pieces, payloads in [{low}, {high}]")
            at_edges = np.stack([np.full(src, low, np.int32), np.full(src, high, np.int32)])
            for extreme in extremes:
                assert_array_equal(pieces(extreme, at_edges), kernel(extreme, at_edges), err_msg=f"edges {low}, {high}")
