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

from snnc.backends.jax.lif import lif_step, sigma_delta_step
from snnc.compiler.ir.spiking import SigmaDeltaPopulation, SpikeInput, SpikingNet
from snnc.runtime.trace import Trace
from snnc.targets import Target


def _bias(mant, exp: int):
    return (mant << exp) if exp >= 0 else (mant >> -exp)


def _step_fn(net: SpikingNet, target: Target, input_bias, vths):
    """One step of every population. State per population: (u, v, r, s): for LIF u, v, unused r and
    binary s; for sigma-delta sigma, act, residue and the graded payload s; for a SpikeInput an
    unused u, its integrator v and its spikes."""
    pops = net.populations
    shapes = {p.name: p.shape for p in pops}
    incoming = {p.name: net.incoming(p.name) for p in pops}
    index = {p.name: i for i, p in enumerate(pops)}
    graded = {p.name: isinstance(p, SigmaDeltaPopulation) for p in pops}
    weights = {id(q): jnp.asarray(q.weight, jnp.int32 if graded[q.src] else jnp.float32) for q in net.projections}
    biases = [input_bias] + [jnp.asarray(p.bias_mant, jnp.int32) for p in pops[1:]]

    def a_in(pop, s):
        total = jnp.zeros((input_bias.shape[0], *pop.shape), jnp.int32)
        for q in incoming[pop.name]:
            spikes = s[index[q.src]]
            x = spikes if graded[q.src] else spikes.astype(jnp.float32)
            y = q.replace(weight=weights[id(q)]).apply(x, shapes[q.src], pop.shape).astype(jnp.int32)
            total = total + ((y << q.weight_exp) if q.weight_exp >= 0 else (y >> -q.weight_exp))
        return total

    def step(state):
        u, v, r, s = state
        out = []
        for i, pop in enumerate(pops):
            if isinstance(pop, SpikeInput):
                vi = v[i] + biases[i]
                si = vi >= pop.full
                out.append((u[i], jnp.where(si, vi - pop.full, vi), r[i], si))
            elif graded[pop.name]:
                out.append(sigma_delta_step(u[i], v[i], r[i], a_in(pop, s), biases[i], vths[i], pop.state_exp, pop.relu))
            else:
                ui, vi, si = lif_step(u[i], v[i], a_in(pop, s), _bias(biases[i], pop.bias_exp), vths[i], pop.du, pop.dv, target)
                out.append((ui, vi, r[i], si))
        return tuple(tuple(x[k] for x in out) for k in range(4))

    return step


def _fired(s):
    """Binary spikes, or graded messages sent (nonzero payloads)."""
    return s if s.dtype == jnp.bool_ else s != jnp.int32(0)


def _initial_state(net: SpikingNet, batch: int, v_inits):
    def zeros(p):
        return jnp.zeros((batch, *p.shape), jnp.int32)

    graded = [isinstance(p, SigmaDeltaPopulation) for p in net.populations]
    v = tuple(jnp.full((batch, *p.shape), v0, jnp.int32) for p, v0 in zip(net.populations, v_inits))
    r = tuple(zeros(p) if g else jnp.zeros((), jnp.int32) for p, g in zip(net.populations, graded))
    s = tuple(zeros(p) if g else jnp.zeros((batch, *p.shape), bool) for p, g in zip(net.populations, graded))
    return tuple(zeros(p) for p in net.populations), v, r, s


@partial(jax.jit, static_argnums=(0, 1, 3, 4))
def _readout_scan(net, target, input_bias, steps, every_population, vths, v_inits):
    """The output's v and spike count at every step, and the final spike count of every neuron of
    every population (every_population) or of the output only."""
    step = _step_fn(net, target, input_bias, vths)
    batch = input_bias.shape[0]
    counted = tuple(range(len(net.populations))) if every_population else (len(net.populations) - 1,)

    def body(carry, _):
        state, counts = carry
        state = step(state)
        counts = tuple(c + _fired(state[3][i]).astype(jnp.int32) for c, i in zip(counts, counted))
        return (state, counts), (state[1][-1], counts[-1])

    zeros = tuple(jnp.zeros((batch, *net.populations[i].shape), jnp.int32) for i in counted)
    (_, counts), (v_out, out_counts) = jax.lax.scan(body, (_initial_state(net, batch, v_inits), zeros), None, length=steps)
    return v_out, out_counts, counts


def _readouts(net: SpikingNet, target: Target, v_out, counts, timesteps) -> dict[int, np.ndarray]:
    v_out, counts = np.asarray(v_out, np.int64), np.asarray(counts, np.int64)
    if isinstance(net.output, SigmaDeltaPopulation):  # the output's act: sigma + bias
        return {t: v_out[t - 1] for t in timesteps}
    scale = net.output.vth << target.vth_shift
    return {t: counts[t - 1] * scale + v_out[t - 1] for t in timesteps}


def readout(net: SpikingNet, target: Target, input_bias: np.ndarray, timesteps: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Output readout at each requested T, int64 (B, *output shape): LIF spikes * (vth << 6) + v;
    sigma-delta its act (sigma + bias)."""
    v_out, out_counts, _ = _readout_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), max(timesteps),
                                         False, *_dynamic(net))
    return _readouts(net, target, v_out, out_counts, timesteps)


def readout_and_counts(net: SpikingNet, target: Target, input_bias: np.ndarray, timesteps: tuple[int, ...]
                       ) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray]]:
    """readout(), and every neuron's spikes over steps 1..max(timesteps), (B, *shape), from one run."""
    v_out, out_counts, counts = _readout_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), max(timesteps),
                                              True, *_dynamic(net))
    return (_readouts(net, target, v_out, out_counts, timesteps),
            {p.name: np.asarray(c) for p, c in zip(net.populations, counts)})


@partial(jax.jit, static_argnums=(0, 1, 3))
def _trace_scan(net, target, input_bias, steps, vths, v_inits):
    step = _step_fn(net, target, input_bias, vths)

    def body(state, _):
        state = step(state)
        return state, state

    _, states = jax.lax.scan(body, _initial_state(net, input_bias.shape[0], v_inits), None, length=steps)
    return states


def trace(net: SpikingNet, target: Target, input_bias: np.ndarray, steps: int) -> Trace:
    """Every population's u, v and spikes at every step 1..steps (sigma-delta: sigma, act, payload)."""
    u, v, _, s = _trace_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), steps, *_dynamic(net))
    names = [p.name for p in net.populations]
    return Trace(*({n: np.asarray(x) for n, x in zip(names, part)} for part in (u, v, s)))


def _dynamic(net: SpikingNet):
    """Thresholds and initial potentials are traced arguments: changing them does not recompile."""
    return (tuple(jnp.int32(p.vth) for p in net.populations),
            tuple(jnp.int32(getattr(p, "v_init", 0)) for p in net.populations))


def _static_parameters(pop) -> tuple:
    if isinstance(pop, SpikeInput):
        return ("spikes", pop.full)
    if isinstance(pop, SigmaDeltaPopulation):
        return ("sigma-delta", pop.state_exp, pop.role)
    return ("lif", pop.bias_exp, pop.du, pop.dv)


class _Static:
    """Static jit argument keyed by the network's weights and structure, not its thresholds, so one
    compilation serves every threshold setting of the same network."""

    def __init__(self, net: SpikingNet):
        self.net = net
        self.key = (id(net.projections), repr(_static_parameters(net.populations[0])),
                    tuple(p.bias_mant.tobytes() + repr(_static_parameters(p)).encode() for p in net.populations[1:]))

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
        counts = tuple(c + jnp.where(t >= start, _fired(s), False).astype(jnp.int32) for c, s in zip(counts, state[3]))
        return (state, counts), None

    batch = input_bias.shape[0]
    counts = tuple(jnp.zeros((batch, *p.shape), jnp.int32) for p in net.populations)
    (_, counts), _ = jax.lax.scan(body, (_initial_state(net, batch, v_inits), counts), jnp.arange(1, steps + 1))
    return counts


def neuron_spike_counts(net: SpikingNet, target: Target, input_bias: np.ndarray, steps: int,
                        start: int = 1) -> dict[str, np.ndarray]:
    """Every neuron's spikes (sigma-delta: messages sent) over steps start..steps, (B, *shape)."""
    counts = _count_scan(_Static(net), target, jnp.asarray(input_bias, jnp.int32), steps, start, *_dynamic(net))
    return {p.name: np.asarray(c) for p, c in zip(net.populations, counts)}


def spike_counts(net: SpikingNet, target: Target, input_bias: np.ndarray, steps: int, start: int = 1) -> dict[str, int]:
    """Total spikes per population over steps start..steps, summed over the batch."""
    return {name: int(c.sum()) for name, c in neuron_spike_counts(net, target, input_bias, steps, start).items()}
