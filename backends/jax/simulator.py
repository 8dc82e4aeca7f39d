"""The JAX reference simulator of a SpikingNet: batched, jit-compiled, lax.scan over time.

Synaptic sums use float32 kernels (dense matmul, conv), which are exact because check_limits
proves every partial sum stays below 2^24 in magnitude; they are cast to int32 before the neuron
update. Everything else is int32 (see lif.py).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from snnc.backends.jax.lif import lif_step
from snnc.compiler.ir.spiking import SpikingNet
from snnc.runtime.trace import Trace
from snnc.targets import Target


def _bias(mant, exp: int):
    return (mant << exp) if exp >= 0 else (mant >> -exp)


def _step_fn(net: SpikingNet, target: Target, input_bias, vths):
    pops = net.populations
    shapes = {p.name: p.shape for p in pops}
    incoming = {p.name: net.incoming(p.name) for p in pops}
    index = {p.name: i for i, p in enumerate(pops)}
    weights = {id(q): jnp.asarray(q.weight, jnp.float32) for q in net.projections}
    biases = [_bias(input_bias, pops[0].bias_exp)] + [
        _bias(jnp.asarray(p.bias_mant, jnp.int32), p.bias_exp) for p in pops[1:]]

    def step(state):
        u, v, s = state
        new_u, new_v, new_s = [], [], []
        for i, pop in enumerate(pops):
            batch = input_bias.shape[0]
            a_in = jnp.zeros((batch, *pop.shape), jnp.int32)
            for q in incoming[pop.name]:
                src = index[q.src]
                total = q.replace(weight=weights[id(q)]).apply(s[src].astype(jnp.float32), shapes[q.src], pop.shape)
                total = total.astype(jnp.int32)
                a_in = a_in + ((total << q.weight_exp) if q.weight_exp >= 0 else (total >> -q.weight_exp))
            ui, vi, si = lif_step(u[i], v[i], a_in, biases[i], vths[i], pop.du, pop.dv, target)
            new_u.append(ui), new_v.append(vi), new_s.append(si)
        return tuple(new_u), tuple(new_v), tuple(new_s)

    return step


def _initial_state(net: SpikingNet, batch: int, v_inits):
    zeros = tuple(jnp.zeros((batch, *p.shape), jnp.int32) for p in net.populations)
    v = tuple(jnp.full((batch, *p.shape), v0, jnp.int32) for p, v0 in zip(net.populations, v_inits))
    s = tuple(jnp.zeros((batch, *p.shape), bool) for p in net.populations)
    return zeros, v, s


@partial(jax.jit, static_argnums=(0, 1, 3))
def _readout_scan(net, target, input_bias, steps, vths, v_inits):
    step = _step_fn(net, target, input_bias, vths)
    out = net.output

    def body(carry, _):
        state, count = carry
        state = step(state)
        count = count + state[2][-1].astype(jnp.int32)
        return (state, count), (state[1][-1], count)

    init = (_initial_state(net, input_bias.shape[0], v_inits), jnp.zeros((input_bias.shape[0], *out.shape), jnp.int32))
    _, (v_out, counts) = jax.lax.scan(body, init, None, length=steps)
    return v_out, counts


def readout(net: SpikingNet, target: Target, input_bias: np.ndarray, timesteps: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Output readout spikes * (vth << 6) + v at each requested T, int64 (B, *output shape)."""
    v_out, counts = _readout_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), max(timesteps), *_dynamic(net))
    v_out, counts = np.asarray(v_out, np.int64), np.asarray(counts, np.int64)
    scale = net.output.vth << target.vth_shift
    return {t: counts[t - 1] * scale + v_out[t - 1] for t in timesteps}


@partial(jax.jit, static_argnums=(0, 1, 3))
def _trace_scan(net, target, input_bias, steps, vths, v_inits):
    step = _step_fn(net, target, input_bias, vths)

    def body(state, _):
        state = step(state)
        return state, state

    _, states = jax.lax.scan(body, _initial_state(net, input_bias.shape[0], v_inits), None, length=steps)
    return states


def trace(net: SpikingNet, target: Target, input_bias: np.ndarray, steps: int) -> Trace:
    """Every population's u, v and spikes at every step 1..steps."""
    u, v, s = _trace_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), steps, *_dynamic(net))
    names = [p.name for p in net.populations]
    return Trace(*({n: np.asarray(x) for n, x in zip(names, part)} for part in (u, v, s)))


def _dynamic(net: SpikingNet):
    """Thresholds and initial potentials are traced arguments: changing them does not recompile."""
    return (tuple(jnp.int32(p.vth) for p in net.populations), tuple(jnp.int32(p.v_init) for p in net.populations))


class _Static:
    """Static jit argument keyed by the network's weights and structure, not its thresholds, so one
    compilation serves every threshold setting of the same network."""

    def __init__(self, net: SpikingNet):
        self.net = net
        self.key = (id(net.projections), tuple(p.bias_mant.tobytes() + bytes([p.bias_exp, p.du % 256, p.dv % 256])
                                               for p in net.populations[1:]))

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Static) and other.key == self.key

    def __getattr__(self, name):
        return getattr(self.net, name)


@partial(jax.jit, static_argnums=(0, 1, 3, 4))
def _count_scan(net, target, input_bias, steps, start, vths, v_inits):
    step = _step_fn(net, target, input_bias, vths)

    def body(carry, t):
        state, counts = carry
        state = step(state)
        counts = tuple(c + jnp.where(t >= start, s.sum(), 0) for c, s in zip(counts, state[2]))
        return (state, counts), None

    counts = tuple(jnp.zeros((), jnp.int32) for _ in net.populations)
    (_, counts), _ = jax.lax.scan(body, (_initial_state(net, input_bias.shape[0], v_inits), counts), jnp.arange(1, steps + 1))
    return counts


def spike_counts(net: SpikingNet, target: Target, input_bias: np.ndarray, steps: int, start: int = 1) -> dict[str, int]:
    """Total spikes per population over steps start..steps, summed over the batch."""
    counts = _count_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), steps, start, *_dynamic(net))
    return {p.name: int(c) for p, c in zip(net.populations, counts)}
