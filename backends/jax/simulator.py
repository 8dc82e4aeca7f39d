"""The JAX reference simulator of a SpikingNet: batched, jit-compiled, lax.scan over time.

Each population advances by its own kind's step (compiler/ir/neurons); this module only routes
synaptic input. Readouts and counts (evaluate) run the network layer by layer, each population
over all T steps from its sources' recorded outputs (its synaptic input routed a few steps at a
time inside its own scan), in chunks of samples (LAYER_BYTES);
trace (verify) steps the whole network one step at a time. Both give the same integers
(tests/test_layerwise_simulator.py). Synaptic sums from binary spikes use float32 kernels (dense
matmul, conv), exact because check_limits proves every partial sum stays below 2^24 in magnitude;
graded payloads use int32 kernels in the trace, float32 kernels on exact pieces (_graded) in the
readouts. The net is a pytree argument: one compilation serves every network of the same
structure, whatever its weights, biases and thresholds.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from snnc.compiler.ir.float_graph import HIGHEST
from snnc.compiler.ir.neurons.lif import shift
from snnc.compiler.ir.spiking import SpikingNet
from snnc.runtime.devices import even_rows, fetched, padded_rows
from snnc.runtime.trace import Trace
from snnc.targets import MAX_WEIGHT_BITS, Target


def _synaptic_input(net: SpikingNet, states, index: dict[str, int], pop):
    """a_in of `pop` from the previous step's spikes (one-step delay per projection), int32."""
    total = jnp.zeros((states[0].s.shape[0], *pop.shape), jnp.int32)
    for q in net.incoming(pop.name):
        src = net.populations[index[q.src]]
        spikes = states[index[q.src]].s
        x = spikes if src.graded else spikes.astype(jnp.float32)
        y = q.apply(x, src.shape, pop.shape).astype(jnp.int32)
        total = total + shift(y, q.weight_exp)
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


LAYER_BYTES = 1 << 26  # per chunk of samples: the int32 outputs of the widest population over T steps
ROUTED_IMAGES = 32  # samples x steps per synaptic kernel call inside a population's scan
UNROLL = 2  # steps per iteration of a population's scan: on XLA's CPU backend, 2 runs about 1.5x faster than 1 (4 is slower)


@partial(jax.jit, static_argnames=("target", "steps", "every_population", "start"))
def _layerwise_readout(net, target, drive, steps, every_population, start=1):
    """The network run layer by layer (see population_trains below): the output's reading and
    spike count at every step, batch first (B, T, *shape), and the spike count over steps
    start..T of every neuron of every population (every_population) or of the output only.
    A hidden population's scan emits what its projections deliver at steps 1..T: its outputs
    s(0..T-1), one step late."""
    net, batch = _kernels(net), drive.shape[0]
    last = len(net.populations) - 1
    delayed, counts = {}, []
    for i, pop in enumerate(net.populations):
        incoming = from_others(net, pop.name)
        emit = (lambda before, after, count: before.s) if i < last else (
            lambda before, after, count: (pop.reading(after), count))
        body = _step_body(pop, target, drive if i == 0 else None, batch, own_projections(net, pop.name), emit)
        sources = tuple(net.population(q.src) for q in incoming)
        _, count, delayed[pop.name] = _routed_scan(body, pop, incoming, sources,
                                                   tuple(delayed[q.src] for q in incoming), steps, batch)
        if start > 1:  # less the spikes before step start
            before = delayed[pop.name][1][start - 2] if i == last else _fired(delayed[pop.name][1:start]).sum(axis=0)
            count = count - before.astype(jnp.int32)
        if every_population or i == last:
            counts.append(count)
    reading, out_counts = (jnp.moveaxis(x, 0, 1) for x in delayed[net.output.name])
    return reading, out_counts, tuple(counts)


def _step_body(pop, target, drive, batch, recurrent, emit):
    """One step of pop for lax.scan, carry (state, spike count so far): its projections onto itself
    (recurrent) added to its synaptic input a from other populations (None: none), then its own
    kind's step; emits emit(state before, state after, count after)."""
    zero = jnp.zeros((batch, *pop.shape), jnp.int32)

    def body(carry, a):
        before, count = carry
        a = zero if a is None else a
        for q in recurrent:
            x = before.s if pop.graded else before.s.astype(jnp.float32)
            a = a + shift(_apply(q, x, pop.shape, pop.shape).astype(jnp.int32), q.weight_exp)
        after = pop.step(before, a, drive, target)
        count = count + _fired(after.s).astype(jnp.int32)
        return (after, count), emit(before, after, count)

    return body


def _initial_carry(pop, batch):
    return pop.init_state(batch), jnp.zeros((batch, *pop.shape), jnp.int32)


def _scan(body, pop, a_in, steps, batch):
    """body over `steps` steps from pop's initial state, fed a_in (T, B, *shape) (None: no synaptic
    input): the final state and spike count, and the emitted outputs stacked over the steps."""
    (state, count), outputs = jax.lax.scan(body, _initial_carry(pop, batch), a_in, length=steps, unroll=UNROLL)
    return state, count, outputs


def _routed_scan(body, pop, projections, sources, delayed, steps, batch):
    """_scan with the synaptic input routed inside the scan from what the sources deliver at steps
    1..T (their delayed outputs, (T, B, *source shape)): g steps at a time (g x B about
    ROUTED_IMAGES samples, g dividing T), each projection one kernel call on the g x B images,
    then g steps of body. The synaptic input over all T is never materialized and each kernel
    call's working set stays in cache: on XLA's CPU backend one convolution over all T x B images,
    with its conversions, costs about three times as much."""
    if not projections:
        return _scan(body, pop, None, steps, batch)
    group = max(d for d in range(1, steps + 1) if steps % d == 0 and d * batch <= max(ROUTED_IMAGES, batch))
    chunks = tuple(jnp.reshape(s, (steps // group, group, batch, *src.shape)) for src, s in zip(sources, delayed))

    def chunk(carry, xs):
        return jax.lax.scan(body, carry, _routed(projections, sources, xs, pop.shape))

    (state, count), outputs = jax.lax.scan(chunk, _initial_carry(pop, batch), chunks, unroll=UNROLL)
    return state, count, jax.tree.map(lambda x: jnp.reshape(x, (steps, *x.shape[2:])), outputs)


def own_projections(net: SpikingNet, name: str) -> tuple:
    """The projections of population `name` onto itself."""
    return tuple(q for q in net.incoming(name) if q.src == name)


def from_others(net: SpikingNet, name: str) -> tuple:
    """The projections into population `name` from other populations."""
    return tuple(q for q in net.incoming(name) if q.src != name)


def _chunked_readout(net: SpikingNet, target: Target, drive, steps: int, every_population: bool, start: int = 1):
    """_layerwise_readout on the host, run on equal chunks of samples (the last padded with zero
    rows, whose results are dropped) whose widest population's outputs over `steps` fit LAYER_BYTES.
    Each chunk is fetched before the next starts: dispatched at once, XLA's CPU client ran them side
    by side, each with its own working set (a TTFS DenseNet's 24 populations: 2 GB per chunk, 23 GB
    for 128 samples)."""
    rows = even_rows(len(drive), max(1, LAYER_BYTES // (4 * steps * max(p.size for p in net.populations))))
    padded = padded_rows(drive, rows)
    parts = [jax.tree.map(fetched, _layerwise_readout(net, target, jnp.asarray(padded[lo:lo + rows], jnp.int32), steps,
                                                      every_population, start)) for lo in range(0, len(padded), rows)]
    return jax.tree.map(lambda *chunks: np.concatenate(chunks)[:len(drive)], *parts)


def _readouts(net: SpikingNet, target: Target, reading, counts, timesteps) -> dict[int, np.ndarray]:
    reading, counts = reading.astype(np.int64), counts.astype(np.int64)
    return {t: net.output.readout(reading[:, t - 1], counts[:, t - 1], target) for t in timesteps}


def readout(net: SpikingNet, target: Target, drive: np.ndarray, timesteps: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The output population's reading at each requested T, int64 (B, *output shape)."""
    reading, out_counts, _ = _chunked_readout(net, target, drive, max(timesteps), False)
    return _readouts(net, target, reading, out_counts, timesteps)


def settled_steps(readings: np.ndarray) -> np.ndarray:
    """Per sample, the step from which the answer is final: the first step t such that the class
    read out at every step t..T is the one read at the last step T. A reading whose maximum is
    tied (before any input arrives: all zero) answers no class. readings: the output's reading at
    every step 1..T, (T, B, *output shape). int64 (B,), in 1..T."""
    flat = readings.reshape(*readings.shape[:2], -1)
    tied = (flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    classes = np.where(tied, -1, flat.argmax(axis=-1))
    unchanged = np.cumprod(classes[::-1] == classes[-1], axis=0).sum(axis=0)  # trailing steps with the final class
    return len(readings) - unchanged + 1


def readout_and_counts(net: SpikingNet, target: Target, drive: np.ndarray, timesteps: tuple[int, ...]
                       ) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """readout(), every neuron's spikes over steps 1..max(timesteps), (B, *shape), and each
    sample's settled_steps() up to max(timesteps), from one run."""
    steps = max(timesteps)
    reading, out_counts, counts = _chunked_readout(net, target, drive, steps, True)
    every_step = _readouts(net, target, reading, out_counts, range(1, steps + 1))
    return ({t: every_step[t] for t in timesteps}, dict(zip((p.name for p in net.populations), counts)),
            settled_steps(np.stack([every_step[t] for t in range(1, steps + 1)])))


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


def neuron_spike_counts(net: SpikingNet, target: Target, drive: np.ndarray, steps: int,
                        start: int = 1) -> dict[str, np.ndarray]:
    """Every neuron's spikes (sigma-delta: messages sent) over steps start..steps, (B, *shape)."""
    return dict(zip((p.name for p in net.populations), _chunked_readout(net, target, drive, steps, True, start)[2]))


def spike_counts(net: SpikingNet, target: Target, drive: np.ndarray, steps: int, start: int = 1) -> dict[str, int]:
    """Total spikes per population over steps start..steps, summed over the batch."""
    return {name: int(c.sum()) for name, c in neuron_spike_counts(net, target, drive, steps, start).items()}


# Layer by layer: one population over all steps at once, from its sources' recorded outputs.
# Projections only go forward in the population order, so a population's outputs depend only on
# its sources' outputs: replayed alone, it gives the same integers as in the whole network. Its
# synaptic input for every step is one large matmul/conv over T x batch; its recurrence a scan of
# its own kind's step. Arrays are time-major, (T, B, *shape), as in trace().

def synaptic_input_trains(net: SpikingNet, name: str, trains: dict, projections=None) -> jnp.ndarray:
    """a_in of population `name` at steps 1..T at once, int32 (T, B, *shape), through `projections`
    (default: every incoming one but its projections onto itself, which population_trains applies)
    from the outputs s(1..T) (T, B, *shape) their sources sent (trains[src]: bool spikes or int32
    payloads). As _synaptic_input: a_in(t) routes s(t-1), s(0) being the source's initial state;
    each projection is applied once to the T x B stacked steps, with float32 kernels after binary
    spikes, int32 after graded payloads."""
    projections = from_others(net, name) if projections is None else projections
    if not projections:
        raise ValueError(f"population {name!r} has no incoming projection: it needs no synaptic input")
    sources = tuple(_anonymous(net.population(q.src)) for q in projections)
    return _route(tuple(q.replace(src="", dst="") for q in projections), sources,
                  tuple(jnp.asarray(trains[q.src]) for q in projections), net.population(name).shape)


@partial(jax.jit, static_argnames=("shape",))
def _route(projections, sources, trains, shape):
    return _routed(projections, sources, tuple(_delayed(src, s) for src, s in zip(sources, trains)), shape)


def _delayed(src, s):
    """What a projection from src delivers at steps 1..T: s(0..T-1), s(0) the initial state (one-step delay)."""
    return jnp.concatenate([src.init_state(s.shape[1]).s[None], s[:-1]])


def _routed(projections, sources, delayed, shape):
    """The synaptic input (T, B, *shape) int32 through `projections` from their sources' delayed
    outputs (T, B, *source shape), each projection applied once to the T x B stacked steps."""
    total = 0
    for q, src, s in zip(projections, sources, delayed):
        steps, batch = s.shape[:2]
        x = jnp.reshape(s if src.graded else s.astype(jnp.float32), (steps * batch, *src.shape))
        y = _apply(q, x, src.shape, shape).astype(jnp.int32)
        total = total + shift(y, q.weight_exp)
    return jnp.reshape(total, (steps, batch, *shape))


def _apply(q, x, src_shape, dst_shape):
    """q.apply(x), except that a float convolution whose kernel overhangs its input (a 3x3 kernel on
    2x2 maps; a pooling composed into a 6x6 kernel on 4x4 maps) runs as image patches times a
    matrix: XLA's CPU convolution is up to 35 times slower there (VGG-16's last block). The same
    integers: the float32 sums are exact in any order under the bound check_limits proves."""
    if x.dtype == jnp.int32:
        return _graded(q, x, src_shape, dst_shape)
    if q.conv is None or x.dtype != jnp.float32 or q.conv.groups != 1 or not (
            q.weight.shape[0] > src_shape[0] or q.weight.shape[1] > src_shape[1]):
        return q.apply(x, src_shape, dst_shape)
    kh, kw, cin, cout = q.weight.shape
    patches = jax.lax.conv_general_dilated_patches(  # features ordered (cin, kh, kw)
        x, (kh, kw), q.conv.strides, q.conv.pads, dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=HIGHEST)
    w = jnp.reshape(jnp.transpose(jnp.asarray(q.weight, jnp.float32), (2, 0, 1, 3)), (cin * kh * kw, cout))
    return jnp.reshape(jnp.matmul(patches, w, precision=HIGHEST), (x.shape[0], *dst_shape))


def _graded(q, x, src_shape, dst_shape):
    """q.apply(x) for int32 payloads x, as float32 kernels where that is exact: x is cut into pieces
    of b bits (the top one signed), each applied in float32, whose sums stay within 2^24 in
    magnitude (fan-in x the largest weight x (2^b - 1)), then shifted and added in int32, which
    wraps like the int32 kernel. XLA's CPU backend runs int32 convolutions without its fast float
    kernels (a strided one 20x slower). Payloads are mostly small: k pieces hold every x in
    [-2^(bk - 1), 2^(bk - 1)) (the top piece then within +-2^(b - 1)), so only as many pieces as
    this call's largest payload needs are applied (a branch per count; all 32 bits in the last)."""
    fan_in = q.weight.shape[1] if q.conv is None else int(np.prod(q.weight.shape[:3]))
    largest = fan_in * (2 ** MAX_WEIGHT_BITS - 1)
    if largest >= 1 << 24:
        return q.apply(x, src_shape, dst_shape)
    bits = int(np.log2((1 << 24) // largest + 1))
    pieces = -(-32 // bits)

    def in_pieces(count, x):
        total = 0
        for i in range(count):
            piece = x >> (bits * i) if i == count - 1 else (x >> (bits * i)) & jnp.int32((1 << bits) - 1)
            y = _apply(q, piece.astype(jnp.float32), src_shape, dst_shape).astype(jnp.int32)
            total = total + (y << (bits * i))
        return total

    low, high = jnp.min(x), jnp.max(x)
    more = sum(((low < -(1 << (bits * k - 1))) | (high >= 1 << (bits * k - 1))).astype(jnp.int32)
               for k in range(1, pieces))  # pieces needed beyond the first
    return jax.lax.switch(more, [partial(in_pieces, count) for count in range(1, pieces + 1)], x)


def _anonymous(pop):
    """pop without the static fields its step never reads, so equal structures share one compilation."""
    return dataclasses.replace(pop, name="", layer="", scale=1.0)


@partial(jax.jit, static_argnames=("target", "steps"))
def _population_scan(pop, target, a_in, drive, steps, recurrent):
    """_scan of pop alone: s(1..T) (T, B, *shape)."""
    batch = (a_in[0] if a_in is not None else drive).shape[0]
    return _scan(_step_body(pop, target, drive, batch, recurrent, lambda before, after, count: after.s), pop, a_in,
                 steps, batch)[2]


def population_trains(pop, target: Target, a_in, drive=None, steps: int | None = None, recurrent=()) -> jnp.ndarray:
    """The outputs s(1..T) (T, B, *shape) of `pop` alone, stepping its own kind over its synaptic
    input a_in (T, B, *shape) int32 (synaptic_input_trains) plus its projections onto itself
    (`recurrent`); a_in None for a host source, which is driven by `drive` (B, *shape) for `steps`
    steps (a source that reads no drive, e.g. a tonic one, takes zeros: their batch is the batch)."""
    return _population_scan(_anonymous(pop), target, *_inputs(a_in, drive, steps), _own(recurrent))


@partial(jax.jit, static_argnames=("target",))
def _counting_scan(pop, target, a_in, start, current, recurrent):
    steps, batch = a_in.shape[:2]
    step = _step_body(pop, target, None, batch, recurrent, lambda before, after, count: None)

    def body(carry, xs):
        a, counted = xs
        (after, _), _ = step(carry, a + jnp.where(counted, current, 0))
        return (after, carry[1] + (counted & _fired(after.s)).astype(jnp.int32)), None

    later = jnp.arange(1, steps + 1) >= start
    return jax.lax.scan(body, _initial_carry(pop, batch), (a_in, later), unroll=UNROLL)[0][1]


def population_counts(pop, target: Target, a_in, start: int = 1, current=0, recurrent=()) -> np.ndarray:
    """Per neuron, the spikes (messages sent) of `pop` alone over steps start..T, int64 (B, *shape):
    population_trains' stepping over a_in plus `current` (int32, broadcast to (B, *shape)) from
    step start on (a tonic bias), without keeping the outputs."""
    counts = _counting_scan(_anonymous(pop), target, jnp.asarray(a_in, jnp.int32), start,
                            jnp.asarray(current, jnp.int32), _own(recurrent))
    return np.asarray(counts).astype(np.int64)


@partial(jax.jit, static_argnames=("target",))
def _reading_scan(pop, target, a_in):
    batch = a_in.shape[1]
    state, count, _ = _scan(_step_body(pop, target, None, batch, (), lambda before, after, count: None), pop, a_in, len(a_in), batch)
    return pop.reading(state), count


def population_reading(pop, target: Target, a_in) -> np.ndarray:
    """The output population `pop` alone, stepped over its synaptic input a_in (T, B, *shape): its
    reading after the last step, int64 (B, *shape), as readout() gives it at T."""
    v, count = _reading_scan(_anonymous(pop), target, jnp.asarray(a_in, jnp.int32))
    return pop.readout(fetched(v).astype(np.int64), fetched(count).astype(np.int64), target)


def _own(recurrent) -> tuple:
    return tuple(q.replace(src="", dst="") for q in recurrent)


def _inputs(a_in, drive, steps):
    a_in = None if a_in is None else jnp.asarray(a_in, jnp.int32)
    drive = None if drive is None else jnp.asarray(drive, jnp.int32)
    return a_in, drive, (len(a_in) if a_in is not None else steps)
