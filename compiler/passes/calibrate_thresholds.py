"""Threshold calibration: correct each population's firing gain on calibration data.

A hard-reset neuron loses the overshoot v - V at every spike, so it fires less than its ANN
activation asks for, and the loss compounds over layers. In network order, each hidden LIF
population's spike count after its first input arrives (steps d + 1..T, d its shortest input path)
is compared on a calibration subset with the count the ANN activations ask for (rho * a / lambda
per step), and its threshold scaled by their ratio (a few rounds per population).

Layer by layer: each population is fitted alone from its recorded inputs. The pass keeps, per
source population, the output spikes the already-calibrated network produces on the subset
(bit-packed), routes them through the projections into the population's a_in at every step at
once (one matmul/conv over samples x T, backends/jax/simulator.synaptic_input_trains), runs only
the population's own recurrence per round, then records its outputs with the fitted threshold for
the populations after it. Projections only go forward, so this is exactly what simulating the
whole network gives (tests/test_calibration.py), at the cost of about one simulation.

Work and memory are bounded. The subset is SAMPLES samples, or fewer (down to MIN_SAMPLES) where
routing them through the projections for T steps would take more than ROUTE_MACS multiply-adds
(a VGG-16 on 32x32 images); a_in is computed for chunks of samples (CHUNK_BYTES); a population is
fitted on the first samples whose a_in fits FIT_BYTES (all for small populations; the note names
the others); a record is dropped after its last reader. The note says how many samples were used.
Weights and biases are unchanged, so all limits proven by quantize still hold.
"""

from __future__ import annotations

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from snnc.backends.jax.simulator import population_spike_count, population_trains, synaptic_input_trains
from snnc.compiler.ir.spiking import FloatNet, LifPopulation, SpikingNet, path_depths
from snnc.targets import Target

SAMPLES = 256
MIN_SAMPLES = 16
ROUTE_MACS = 1 << 38  # synaptic multiply-adds to route: samples x T x the network's per step (~10 s of 2 CPUs)
ROUNDS = 3
FIT_BYTES = 1 << 28  # the int32 a_in (T x samples x neurons) a population is fitted on
CHUNK_BYTES = 1 << 28  # the int32 a_in, or float32 source spikes, of one chunk of samples
FORWARD_BATCH = 64  # samples per ANN forward pass


def calibrate_thresholds(net: SpikingNet, float_net: FloatNet, target: Target, calibration, scales, coding,
                         timesteps: int) -> tuple[SpikingNet, list[str]]:
    x = np.concatenate(list(_first(calibration.batches(), _samples(net, timesteps))))
    activity = _positive_activity(float_net, x)
    depth, last_reader = path_depths(net, longest=False), net.last_readers()
    pops = list(net.populations)
    records: dict[str, np.ndarray] = {}
    changes, fewer = [], []
    for i, pop in enumerate(pops):
        a_fit, fitted = None, len(x)
        start = depth[pop.name] + 1
        if 0 < i < len(pops) - 1 and isinstance(pop, LifPopulation) and timesteps > start:
            fitted = _fit_samples(net, pop, timesteps, len(x))
            wanted = activity[pop.name][:fitted].sum() / scales[pop.name] * coding.max_rate * (timesteps - start)
            if wanted > 0:
                a_fit = _a_in(net, pop, records, 0, fitted, timesteps)
                vth = _fit(pop, target, a_fit, start, wanted)
                pops[i] = _with_vth(pop, vth)
                changes.append(f"{pop.name} {pop.vth}->{vth}")
                if fitted < len(x):
                    fewer.append(f"{pop.name} {fitted}")
        if pop.name in last_reader:
            records[pop.name] = _record(net, pops[i], target, records, net.encode(x) if i == 0 else None, a_fit,
                                        timesteps, len(x))
        for name in [n for n, reader in last_reader.items() if reader == i]:
            del records[name]
    calibrated = SpikingNet(tuple(pops), net.projections, net.encoding, net.notes)
    budget = f" (at most {SAMPLES}: {ROUTE_MACS:.2g} synaptic operations routed)" if len(x) < SAMPLES else ""
    note = (f"thresholds calibrated for T={timesteps} on {len(x)} samples{budget}, layer by layer (each population "
            "alone from its inputs as the calibrated layers before it send them): " + ", ".join(changes))
    if fewer:
        note += "; fitted on fewer samples to bound memory (population samples): " + ", ".join(fewer)
    return calibrated, [note]


def _fit(pop: LifPopulation, target: Target, a_in, start: int, wanted: float) -> int:
    """Scale vth by (spikes it gives / spikes wanted) over steps start..T, ROUNDS times."""
    vth = pop.vth
    for _ in range(ROUNDS):
        got = population_spike_count(_with_vth(pop, vth), target, a_in, start)
        if got == 0:
            break
        vth = int(np.clip(round(vth * got / wanted), 1, target.vth_max))
    return vth


def _with_vth(pop, vth: int):
    return replace(pop, vth=vth, v_init=int(round(pop.v_init * vth / pop.vth)))


def _record(net: SpikingNet, pop, target: Target, records, drive, a_fit, steps: int, samples: int) -> np.ndarray:
    """pop's outputs on every sample, time-major: binary spikes bit-packed (T, B, ceil(size / 8))
    uint8, graded payloads int32 (T, B, *shape). The fitted samples reuse their a_in."""
    parts = []
    done = 0 if a_fit is None else a_fit.shape[1]
    if a_fit is not None:
        parts.append(_pack(population_trains(pop, target, a_fit), pop))
    for lo, hi in _chunks(done, samples, _chunk_size(net, pop, steps)):
        if drive is not None:
            trains = population_trains(pop, target, None, drive[lo:hi], steps)
        else:
            trains = population_trains(pop, target, _a_in(net, pop, records, lo, hi, steps))
        parts.append(_pack(trains, pop))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _a_in(net: SpikingNet, pop, records, lo: int, hi: int, steps: int) -> jnp.ndarray:
    """pop's synaptic input at steps 1..T for samples lo..hi, computed chunk by chunk."""
    parts = []
    for a, b in _chunks(lo, hi, _chunk_size(net, pop, steps)):
        sources = {q.src: _unpack(records[q.src], net.population(q.src), a, b) for q in net.incoming(pop.name)}
        parts.append(synaptic_input_trains(net, pop.name, sources))
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)


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


def _samples(net: SpikingNet, steps: int) -> int:
    """Calibration samples: SAMPLES, or fewer (not below MIN_SAMPLES) where routing them all through
    the network's projections for T steps would exceed ROUTE_MACS multiply-adds."""
    per_step = sum(q.weight.size if q.conv is None else net.population(q.dst).size * int(np.prod(q.weight.shape[:3]))
                   for q in net.projections)
    return int(np.clip(ROUTE_MACS // (steps * per_step), MIN_SAMPLES, SAMPLES))


def _fit_samples(net: SpikingNet, pop, steps: int, samples: int) -> int:
    """The samples pop is fitted on: all, or as many whole chunks as FIT_BYTES of a_in hold."""
    chunk = _chunk_size(net, pop, steps)
    return min(samples, max(1, FIT_BYTES // (4 * steps * pop.size) // chunk) * chunk)


def _chunk_size(net: SpikingNet, pop, steps: int) -> int:
    widest = max([pop.size, *(net.population(q.src).size for q in net.incoming(pop.name))])
    return max(1, CHUNK_BYTES // (4 * steps * widest))


def _chunks(lo: int, hi: int, size: int):
    return [(a, min(a + size, hi)) for a in range(lo, hi, size)]


def _positive_activity(float_net: FloatNet, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per sample, every population's summed positive ANN activation, float64 (B,)."""
    forward = jax.jit(float_net.forward)
    sums: dict[str, list[np.ndarray]] = {p.name: [] for p in float_net.populations}
    for lo, hi in _chunks(0, len(x), FORWARD_BATCH):
        for name, values in forward(x[lo:hi]).items():
            positive = np.maximum(np.asarray(values, np.float64), 0)
            sums[name].append(positive.reshape(hi - lo, -1).sum(axis=1))
    return {name: np.concatenate(parts) for name, parts in sums.items()}


def _first(batches, count: int):
    taken = 0
    for batch in batches:
        if taken >= count:
            return
        yield batch[: count - taken]
        taken += len(batch)
