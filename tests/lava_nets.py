"""Random small integer networks for the Lava property tests, on Lava's weight grid.

input (H, W, C) -> conv (random kernel, stride, symmetric or one-sided pads, weight_exp) -> a
  -> depthwise average pool (constant kernel) -> b -> flatten + dense -> c -> dense -> output,
plus a skip projection input -> c (an Add: two projections into one population). Parameters
are drawn across their whole ranges, with some networks pushed to u's wrap and v's saturation.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.passes.quantize import to_weight_grid
from snnc.targets import LOIHI2
from snnc.compiler.ir.spiking import (
    ConvGeometry, InputEncoding, LifPopulation, LifResetPopulation, Projection, SigmaDeltaPopulation, SpikeInput,
    SpikingNet,
)


def grid_weights(rng, shape) -> np.ndarray:
    """Excitatory [0, 255], inhibitory [-255, 0] or mixed even [-254, 254] (Lava's sign modes)."""
    mode = rng.integers(3)
    if mode == 0:
        return rng.integers(0, 256, shape).astype(np.int32)
    if mode == 1:
        return -rng.integers(0, 256, shape).astype(np.int32)
    return 2 * rng.integers(-127, 128, shape).astype(np.int32)


MODES = ("normal", "normal", "normal", "wrap", "saturate")


def _population(rng, name, shape, role) -> LifPopulation:
    """normal: thresholds a few hundred, any decay; wrap: u barely decays (du -1 or 0) and the
    threshold is out of reach, so u runs into the 24-bit wrap; saturate: large biases drive v
    into its +-(2^23 - 1) clip under a threshold near the 17-bit maximum."""
    mode = MODES[rng.integers(len(MODES))]
    mant, exp = rng.integers(-4096, 4096, shape).astype(np.int32), int(rng.integers(0, 8))
    if mode == "normal":
        vth, du = int(rng.integers(1, 400)), int(rng.integers(-1, 4096))
    elif mode == "wrap":
        vth, du = 2 ** 17 - 1, int(rng.integers(-1, 1))
    else:
        vth, du, exp = int(rng.integers(2 ** 16, 2 ** 17)), int(rng.integers(-1, 4096)), 7
    v_init = int(rng.integers(-(vth << 6), (vth << 6) + 1))
    return LifPopulation(name, shape, role, vth, mant, exp, v_init, du, int(rng.integers(0, 4096)), 1.0, name)


def _conv_out(size, k, stride, lo, hi):
    return (size + lo + hi - k) // stride + 1


def _largest_current(q: Projection) -> int:
    a = np.abs(q.weight.astype(np.int64))
    rows = a.sum(axis=1) if q.conv is None else a.reshape(-1, a.shape[-1]).sum(axis=0)
    return int(rows.max()) << max(q.weight_exp, 0)


def _bounded(projections, limit: int = 2 ** 17 - 1):
    """Lower weight exponents until every population's largest input current |a_in| < 2^17
    (the compiler's own bound, check_limits), so a_in << 6 stays inside int32."""
    out = list(projections)
    for dst in {q.dst for q in out}:
        while sum(_largest_current(q) for q in out if q.dst == dst) > limit:
            i = max((i for i, q in enumerate(out) if q.dst == dst), key=lambda i: _largest_current(out[i]))
            q = out[i]
            out[i] = q.replace(weight_exp=q.weight_exp - 1) if q.weight_exp > 0 else q.replace(weight=q.weight // 2)
    return tuple(out)


def _sigma_delta_population(rng, name, shape, role) -> SigmaDeltaPopulation:
    """Delta thresholds from 0 (every change is sent) up; biases across the signed 16-bit range."""
    exp = int(rng.integers(0, 8))
    vth = int(rng.choice([0, 1, int(rng.integers(1, 2 ** 12))]))
    bias = rng.integers(-(2 ** 15), 2 ** 15, shape) >> exp
    return SigmaDeltaPopulation(name, shape, role, vth, bias.astype(np.int32), exp, 1.0, name)


def _bounded_graded(projections):
    """Graded payloads are large: weights / 16 (back on the grid) and exponents at most 0, so that
    sums mostly stay inside 24 bits; the tests skip the draws where sigma leaves them (Lava's Conv
    clamps its output to 24 bits, where the IR is not defined)."""
    return tuple(q.replace(weight=to_weight_grid(q.weight / 16, LOIHI2), weight_exp=min(q.weight_exp, 0))
                 for q in projections)


def _reset_population(rng, name, shape, role) -> LifResetPopulation:
    """Memoryless LIF: thresholds from 0 up, per-neuron biases across the 13-bit mantissa (the
    staggered levels of a thermometer code), some near v's saturation."""
    vth = int(rng.choice([0, int(rng.integers(1, 400)), int(rng.integers(2 ** 16, 2 ** 17))]))
    mant, exp = rng.integers(-4096, 4096, shape).astype(np.int32), int(rng.integers(0, 8))
    return LifResetPopulation(name, shape, role, vth, mant, exp, 1.0, name)


POPULATIONS = {"lif": _population, "sigma-delta": _sigma_delta_population, "lif-reset": _reset_population}


def random_lava_net(seed: int, neuron: str = "lif") -> SpikingNet:
    rng = np.random.default_rng(seed)
    population = POPULATIONS[neuron]
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    h, w, c = int(rng.integers(k + 1, 8)), int(rng.integers(k + 1, 8)), int(rng.integers(1, 4))
    pads = tuple((int(rng.integers(0, k)),) * 2 if rng.integers(2) else (0, int(rng.integers(0, k))) for _ in range(2))
    groups = int(rng.choice([1, c]))
    ca = groups * int(rng.integers(1, 3))
    a_shape = (_conv_out(h, k, stride, *pads[0]), _conv_out(w, k, stride, *pads[1]), ca)
    pool = int(rng.integers(1, 3)) if min(a_shape[:2]) >= 2 else 1
    b_shape = (a_shape[0] // pool, a_shape[1] // pool, ca)
    n_c, n_out = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    shapes = {"input": (h, w, c), "a": a_shape, "b": b_shape, "c": (n_c,), "output": (n_out,)}
    roles = {"input": "input", "output": "output"}
    pops = tuple(population(rng, name, shape, roles.get(name, "hidden")) for name, shape in shapes.items())
    if neuron != "sigma-delta" and rng.integers(2):  # input as host spike trains (what compiled networks use)
        pops = (SpikeInput("input", shapes["input"], "input", 4096, 1.0, "input"), *pops[1:])
    exp = lambda: int(rng.integers(-2, 8))  # noqa: E731
    avg = np.full((pool, pool, 1, ca), int(rng.integers(1, 256)), np.int32)
    bound = _bounded_graded if neuron == "sigma-delta" else _bounded
    projections = bound((
        Projection("input", "a", grid_weights(rng, (k, k, c // groups, ca)), ConvGeometry((stride, stride), pads, groups),
                   int(rng.choice([0, exp()]))),
        Projection("a", "b", avg, ConvGeometry((pool, pool), ((0, 0), (0, 0)), ca)),
        Projection("b", "c", grid_weights(rng, (n_c, int(np.prod(b_shape)))), weight_exp=exp()),
        Projection("input", "c", grid_weights(rng, (n_c, h * w * c)), weight_exp=exp()),
        Projection("c", "output", grid_weights(rng, (n_out, n_c)), weight_exp=exp()),
    ))
    return SpikingNet(pops, projections, InputEncoding(1.0, 4095))


def random_input_bias(net: SpikingNet, seed: int, batch: int = 2) -> np.ndarray:
    """Input bias mantissas; rates m / full in [0, 1] for a SpikeInput."""
    rng = np.random.default_rng(seed)
    low = 0 if isinstance(net.input, SpikeInput) else -4096
    return rng.integers(low, 4097 if low == 0 else 4096, (batch, *net.input.shape)).astype(np.int32)


def assert_jax_equals_numpy_equals_lava(net: SpikingNet, drive: np.ndarray, steps: int):
    """Every u, v and spike of every population at every step: the JAX trace against the plain
    numpy model (each sample) and against Lava (all Lava has: host sources have no u, v). The trace."""
    from numpy.testing import assert_array_equal

    import numpy_reference as ref
    from snnc.backends.jax.simulator import trace
    from snnc.backends.lava.runner import lava_trace

    want = trace(net, LOIHI2, drive, steps)
    for b in range(len(drive)):
        reference = ref.simulate(net, drive[b], steps)
        for kind in "uvs":
            for name in getattr(want, kind):
                assert_array_equal(getattr(want, kind)[name][:, b], reference[kind][name], err_msg=f"{kind} of {name}")
    got = lava_trace(net, drive, steps)
    for kind in "uvs":
        for name, x in getattr(got, kind).items():
            assert_array_equal(x, getattr(want, kind)[name], err_msg=f"{kind} of {name}")
    return want
