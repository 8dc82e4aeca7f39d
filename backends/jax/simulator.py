"""The JAX reference simulator of a SpikingNet: batched, jit-compiled, lax.scan over time.

Each population advances by its own kind's step (compiler/ir/neurons); this module only routes
synaptic input. Synaptic sums from binary spikes use float32 kernels (dense matmul, conv), exact
because check_limits proves every partial sum stays below 2^24 in magnitude; graded payloads use
int32 kernels. The net is a pytree argument: one compilation serves every network of the same
structure, whatever its weights, biases and thresholds.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from snnc.compiler.ir.spiking import SpikingNet
from snnc.runtime.trace import Trace
from snnc.targets import Target


def _synaptic_input(net: SpikingNet, states, index: dict[str, int], pop):
    """a_in of `pop` from the previous step's spikes (one-step delay per projection), int32."""
    total = jnp.zeros((states[0].s.shape[0], *pop.shape), jnp.int32)
    for q in net.incoming(pop.name):
        src = net.populations[index[q.src]]
        spikes = states[index[q.src]].s
        x = spikes if src.graded else spikes.astype(jnp.float32)
        y = q.apply(x, src.shape, pop.shape).astype(jnp.int32)
        total = total + ((y << q.weight_exp) if q.weight_exp >= 0 else (y >> -q.weight_exp))
    return total


def _kernels(net: SpikingNet) -> SpikingNet:
    """The net with each weight in the dtype of its synaptic kernel, converted once before the scan:
    float32 after binary spikes, int32 after graded payloads."""
    graded = {p.name: p.graded for p in net.populations}
    return dataclasses.replace(net, projections=tuple(
        q.replace(weight=jnp.asarray(q.weight, jnp.int32 if graded[q.src] else jnp.float32)) for q in net.projections))


def _step(net: SpikingNet, target: Target, drive, states):
    """One step of every population: a tuple of each kind's State."""
    index = {p.name: i for i, p in enumerate(net.populations)}
    return tuple(pop.step(state, _synaptic_input(net, states, index, pop), drive if i == 0 else None, target)
                 for i, (pop, state) in enumerate(zip(net.populations, states)))


def _initial(net: SpikingNet, batch: int):
    return tuple(p.init_state(batch) for p in net.populations)


def _fired(s):
    """Binary spikes, or graded messages sent (nonzero payloads)."""
    return s if s.dtype == jnp.bool_ else s != jnp.int32(0)


@partial(jax.jit, static_argnames=("target", "steps", "every_population"))
def _readout_scan(net, target, drive, steps, every_population):
    """The output's v and spike count at every step, and the final spike count of every neuron of
    every population (every_population) or of the output only."""
    net, batch = _kernels(net), drive.shape[0]
    counted = tuple(range(len(net.populations))) if every_population else (len(net.populations) - 1,)

    def body(carry, _):
        states, counts = carry
        states = _step(net, target, drive, states)
        counts = tuple(c + _fired(states[i].s).astype(jnp.int32) for c, i in zip(counts, counted))
        return (states, counts), (net.output.probe(states[-1])[1], counts[-1])

    zeros = tuple(jnp.zeros((batch, *net.populations[i].shape), jnp.int32) for i in counted)
    (_, counts), (v_out, out_counts) = jax.lax.scan(body, (_initial(net, batch), zeros), None, length=steps)
    return v_out, out_counts, counts


def _readouts(net: SpikingNet, target: Target, v_out, counts, timesteps) -> dict[int, np.ndarray]:
    v_out, counts = np.asarray(v_out, np.int64), np.asarray(counts, np.int64)
    return {t: net.output.readout(v_out[t - 1], counts[t - 1], target) for t in timesteps}


def readout(net: SpikingNet, target: Target, drive: np.ndarray, timesteps: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The output population's reading at each requested T, int64 (B, *output shape)."""
    v_out, out_counts, _ = _readout_scan(net, target, jnp.asarray(drive, jnp.int32), max(timesteps), False)
    return _readouts(net, target, v_out, out_counts, timesteps)


def readout_and_counts(net: SpikingNet, target: Target, drive: np.ndarray, timesteps: tuple[int, ...]
                       ) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray]]:
    """readout(), and every neuron's spikes over steps 1..max(timesteps), (B, *shape), from one run."""
    v_out, out_counts, counts = _readout_scan(net, target, jnp.asarray(drive, jnp.int32), max(timesteps), True)
    return (_readouts(net, target, v_out, out_counts, timesteps),
            {p.name: np.asarray(c) for p, c in zip(net.populations, counts)})


@partial(jax.jit, static_argnames=("target", "steps"))
def _trace_scan(net, target, drive, steps):
    net = _kernels(net)

    def body(states, _):
        states = _step(net, target, drive, states)
        return states, tuple((*p.probe(s), s.s) for p, s in zip(net.populations, states))

    _, probed = jax.lax.scan(body, _initial(net, drive.shape[0]), None, length=steps)
    return probed


def trace(net: SpikingNet, target: Target, drive: np.ndarray, steps: int) -> Trace:
    """Every population's u, v (as its kind probes them) and spikes at every step 1..steps."""
    probed = _trace_scan(net, target, jnp.asarray(drive, jnp.int32), steps)
    names = [p.name for p in net.populations]
    return Trace(*({n: np.asarray(x[k]) for n, x in zip(names, probed) if x[k] is not None} for k in range(3)))


@partial(jax.jit, static_argnames=("target", "steps", "start"))
def _count_scan(net, target, drive, steps, start):
    net = _kernels(net)

    def body(carry, t):
        states, counts = carry
        states = _step(net, target, drive, states)
        counts = tuple(c + jnp.where(t >= start, _fired(s.s), False).astype(jnp.int32) for c, s in zip(counts, states))
        return (states, counts), None

    batch = drive.shape[0]
    counts = tuple(jnp.zeros((batch, *p.shape), jnp.int32) for p in net.populations)
    (_, counts), _ = jax.lax.scan(body, (_initial(net, batch), counts), jnp.arange(1, steps + 1))
    return counts


def neuron_spike_counts(net: SpikingNet, target: Target, drive: np.ndarray, steps: int,
                        start: int = 1) -> dict[str, np.ndarray]:
    """Every neuron's spikes (sigma-delta: messages sent) over steps start..steps, (B, *shape)."""
    counts = _count_scan(net, target, jnp.asarray(drive, jnp.int32), steps, start)
    return {p.name: np.asarray(c) for p, c in zip(net.populations, counts)}


def spike_counts(net: SpikingNet, target: Target, drive: np.ndarray, steps: int, start: int = 1) -> dict[str, int]:
    """Total spikes per population over steps start..steps, summed over the batch."""
    return {name: int(c.sum()) for name, c in neuron_spike_counts(net, target, drive, steps, start).items()}
