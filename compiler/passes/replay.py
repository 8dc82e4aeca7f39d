"""Layer-by-layer replay of an integer network on calibration data, for the calibration passes.

Populations are visited in network order; each is replayed alone from the outputs its sources
produced (kept bit-packed until their last reader), its synaptic input for every step routed at
once (one matmul/conv over samples x T, backends/jax/simulator.synaptic_input_trains) and only its
own recurrence stepped (its projections onto itself included). Projections only go forward, so
this is exactly what simulating the whole network gives (tests/test_calibration.py), at the cost
of about one simulation, whatever a pass fits per population.

Work and memory are bounded. The subset is SAMPLES samples, or fewer (down to MIN_SAMPLES) where
routing them through the projections for T steps would take more than ROUTE_MACS multiply-adds
(a VGG-16 on 32x32 images); a_in is computed for chunks of samples (CHUNK_BYTES); a population is
fitted on the first samples whose a_in fits FIT_BYTES (all for small populations); a record is
dropped after its last reader.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from snnc.backends.jax.simulator import from_others, population_reading, population_trains, readout, synaptic_input_trains
from snnc.compiler.ir.spiking import FloatNet, SpikingNet
from snnc.targets import Target

SAMPLES = 256
MIN_SAMPLES = 16
ROUTE_MACS = 1 << 38  # synaptic multiply-adds to route: samples x T x the network's per step (~10 s of 2 CPUs)
FIT_BYTES = 1 << 28  # the int32 a_in (T x samples x neurons) a population is fitted on
CHUNK_BYTES = 1 << 28  # the int32 a_in, or float32 source spikes, of one chunk of samples


def calibration_samples(net: SpikingNet, calibration, steps: int) -> np.ndarray:
    """The first samples of the calibration data the replay runs: SAMPLES, or fewer (not below
    MIN_SAMPLES) where routing them all through the projections for T steps would exceed ROUTE_MACS."""
    per_step = sum(q.weight.size if q.conv is None else net.population(q.dst).size * int(np.prod(q.weight.shape[:3]))
                   for q in net.projections)
    count = int(np.clip(ROUTE_MACS // (steps * per_step), MIN_SAMPLES, SAMPLES))
    return np.concatenate(list(_first(calibration.batches(), count)))


def budget_note(samples: int) -> str:
    """What the notes say where the routing budget cut the calibration samples."""
    return f" (at most {SAMPLES}: {ROUTE_MACS:.2g} synaptic operations routed)" if samples < SAMPLES else ""


class Replay:
    """The recorded outputs of the populations replayed so far, each kept until its last reader."""

    def __init__(self, net: SpikingNet, target: Target, x: np.ndarray, steps: int):
        self.net, self.target, self.x, self.steps = net, target, x, steps
        self.last_reader = net.last_readers()
        self.records: dict[str, np.ndarray] = {}

    def fit_samples(self, pop) -> int:
        """The samples pop is fitted on: all, or as many whole chunks as FIT_BYTES of a_in hold."""
        chunk = self._chunk_size(pop)
        return min(len(self.x), max(1, FIT_BYTES // (4 * self.steps * pop.size) // chunk) * chunk)

    def a_in(self, pop, lo: int, hi: int, projections=None) -> jnp.ndarray:
        """pop's synaptic input at steps 1..T for samples lo..hi through `projections` (default: all
        but its own), computed chunk by chunk."""
        projections = from_others(self.net, pop.name) if projections is None else projections
        parts = []
        for a, b in _chunks(lo, hi, self._chunk_size(pop)):
            sources = {q.src: _unpack(self.records[q.src], self.net.population(q.src), a, b) for q in projections}
            parts.append(synaptic_input_trains(self.net, pop.name, sources, projections))
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)

    def answers(self) -> np.ndarray:
        """The class the output population reads at T on every sample (before it is advanced: its
        sources' records are still kept)."""
        out = self.net.output
        parts = [population_reading(out, self.target, self.a_in(out, lo, hi)).reshape(hi - lo, -1).argmax(axis=1)
                 for lo, hi in _chunks(0, len(self.x), self._chunk_size(out))]
        return np.concatenate(parts)

    def advance(self, i: int, pop, own=(), a_fit=None) -> None:
        """Record population i (as fitted: pop, its projections onto itself `own`) if it is read
        later, reusing a_fit (the a_in of its first samples); drop the records it was the last
        reader of."""
        if pop.name in self.last_reader:
            self.records[pop.name] = self._record(pop, list(own), a_fit, i == 0)
        for name in [n for n, reader in self.last_reader.items() if reader == i]:
            del self.records[name]

    def _record(self, pop, own, a_fit, is_input: bool) -> np.ndarray:
        """pop's outputs on every sample, time-major: binary spikes bit-packed (T, B, ceil(size / 8))
        uint8, graded payloads int32 (T, B, *shape)."""
        parts = []
        done = 0 if a_fit is None else a_fit.shape[1]
        if a_fit is not None:
            parts.append(_pack(population_trains(pop, self.target, a_fit, recurrent=own), pop))
        for lo, hi in _chunks(done, len(self.x), self._chunk_size(pop)):
            if is_input or not pop.on_chip:  # the input's drive; other host sources read none
                drive = self.net.encode(self.x[lo:hi]) if is_input else np.zeros((hi - lo, *pop.shape), np.int32)
                trains = population_trains(pop, self.target, None, drive, self.steps)
            else:
                trains = population_trains(pop, self.target, self.a_in(pop, lo, hi), recurrent=own)
            parts.append(_pack(trains, pop))
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _chunk_size(self, pop) -> int:
        widest = max([pop.size, *(self.net.population(q.src).size for q in self.net.incoming(pop.name))])
        return max(1, CHUNK_BYTES // (4 * self.steps * widest))


def answers(net: SpikingNet, target: Target, x: np.ndarray, steps: int) -> np.ndarray:
    """The network's class on every sample at T = steps, from the simulator's layer-by-layer
    readout (its routing inside each population's scan runs about twice as fast as a replay)."""
    return readout(net, target, net.encode(x), (steps,))[steps].reshape(len(x), -1).argmax(axis=1)


def ann_classes(float_net: FloatNet, x: np.ndarray) -> np.ndarray:
    out = float_net.populations[-1].name
    return np.concatenate([values[out].reshape(len(values[out]), -1).argmax(axis=1)
                           for values in float_net.pre_activation_batches(x)])


def positive_activations(float_net: FloatNet, x: np.ndarray, reduce,
                         ceilings: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per population, reduce(activation, population) per batch of the ANN's forward pass (relu, or a capped relu),
    concatenated over samples (reduce keeps the batch axis first); with ceilings, each activation
    clipped at its population's."""
    parts: dict[str, list[np.ndarray]] = {p.name: [] for p in float_net.populations}
    for values in float_net.pre_activation_batches(x):
        for name, pre in values.items():
            ceiling = np.inf if ceilings is None else ceilings[name]
            activation = float_net.population(name).activation(pre.astype(np.float64))
            parts[name].append(reduce(np.minimum(activation, ceiling)))
    return {name: np.concatenate(p) for name, p in parts.items()}


def _pack(trains, pop) -> np.ndarray:
    trains = np.asarray(trains)
    if pop.graded:
        return trains
    return np.packbits(trains.reshape(*trains.shape[:2], -1), axis=-1)


def _unpack(record: np.ndarray, pop, lo: int, hi: int) -> np.ndarray:
    if pop.graded:
        return record[:, lo:hi]
    bits = np.unpackbits(record[:, lo:hi], axis=-1, count=pop.size).view(bool)
    return bits.reshape(len(record), hi - lo, *pop.shape)


def _chunks(lo: int, hi: int, size: int):
    return [(a, min(a + size, hi)) for a in range(lo, hi, size)]


def _first(batches, count: int):
    taken = 0
    for batch in batches:
        if taken >= count:
            return
        yield batch[: count - taken]
        taken += len(batch)
