"""The JAX LIF step against the independent numpy reference: hypothesis-generated values and the
edge cases (u wrap, v saturation, decay rounding toward zero, strict threshold)."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal

import numpy_reference as ref
from snnc.compiler.ir.neurons.lif import lif_step
from snnc.targets import LOIHI2

jax.config.update("jax_numpy_dtype_promotion", "strict")
step = jax.jit(lif_step, static_argnums=(5, 6, 7))

U = st.integers(-(2 ** 23) + 1, 2 ** 23)
V = st.integers(-(2 ** 23) + 1, 2 ** 23 - 1)


def _compare(u, v, a, bias, vth, du, dv):
    arrays = [np.asarray(x, np.int32) for x in (u, v, a, bias)]
    got = step(*(jnp.asarray(x) for x in arrays), jnp.int32(vth), du, dv, LOIHI2)
    want = ref.lif(*(x.astype(np.int64) for x in arrays), vth, du, dv)
    for g, w in zip(got, want):
        assert_array_equal(np.asarray(g).astype(np.int64), w)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(U, V, st.integers(-(2 ** 17) + 1, 2 ** 17 - 1), st.integers(-4096 * 128, 4095 * 128)),
                min_size=1, max_size=16),
       st.integers(0, 2 ** 17 - 1), st.integers(-1, 4095), st.integers(0, 4095))
def test_lif_matches_numpy_reference(rows, vth, du, dv):
    u, v, a, bias = np.array(rows, np.int64).T
    _compare(u, v, a, bias, vth, du, dv)


def test_edges_wrap_saturate_round_toward_zero_strict_threshold():
    u = np.array([2 ** 23, -(2 ** 23) + 1, 5000, -5000, 0, 0, 0, 1])
    v = np.array([0, 0, -4097, 4097, 2 ** 23 - 1, -(2 ** 23) + 1, 6399, 0])
    a = np.array([1, -1, 0, 0, 2 ** 16, -(2 ** 16), 0, 2 ** 17 - 1])
    bias = np.array([0, 0, 0, 0, 2 ** 19, -(2 ** 19), 1, 0])
    for du, dv in ((4095, 0), (0, 1), (2048, 2048), (-1, 4095)):
        _compare(u, v, a, bias, 100, du, dv)
    # hand-checked values
    def one(u, v, a, bias, vth, du, dv):
        out = step(*(jnp.asarray(np.array(x, np.int32)) for x in (u, v, a, bias)), jnp.int32(vth), du, dv, LOIHI2)
        return [np.asarray(x) for x in out]

    u, v, s = one([2 ** 23 - 32, 0], [0, -(2 ** 23) + 1], [1, 0], [0, -(2 ** 20)], 2 ** 17 - 1, -1, 0)
    assert u[0] == 2 ** 23 - 32 + 64 - 2 ** 24  # u wrapped once past +2^23
    assert v[1] == -(2 ** 23) + 1  # v saturated
    u, v, s = one([-4097, 4097], [-4097, 4097], [0, 0], [0, 0], 100, 2047, 2048)
    assert_array_equal(u, [-2048, 2048])  # 4097 * 2048 / 4096 = 2048.5 -> toward zero on both signs
    assert_array_equal(v, [-2048 - 2048, 2048 + 2048])
    u, v, s = one([0, 0], [6400, 6401], [0, 0], [0, 0], 100, -1, 0)
    assert_array_equal(s, [False, True])  # strict: v == vth << 6 does not spike
    assert_array_equal(v, [6400, 0])  # hard reset
