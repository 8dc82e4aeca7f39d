"""Evaluate an artifact on labelled data with the JAX reference simulator, batch by batch."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from jax.sharding import NamedSharding

from snnc.backends.jax.simulator import readout_and_counts
from snnc.compiler.ir.spiking import SpikingNet, path_depths
from snnc.errors import SnncError
from snnc.runtime.artifact import Artifact
from snnc.runtime.counts import CountTally, energy_estimate
from snnc.runtime.data import iter_x, load_labels
from snnc.runtime.devices import batch_sharding, even_rows, first_rows, padded_rows, shard_rows
from snnc.runtime.progress import tracked
from snnc.runtime.results import EvaluateResult, Latency, TimestepAccuracy
from snnc.targets import Target

BATCH = 256


def first_samples(data: Path, input_shape: tuple[int, ...], count: int) -> np.ndarray:
    x = next(iter_x(Path(data), input_shape, count, count), None)
    if x is None:
        raise SnncError(f"{data}: no samples")
    return x


def _correct(scores, labels: np.ndarray) -> int:
    return int((np.asarray(scores).reshape(len(labels), -1).argmax(1) == labels).sum())


def simulated(net: SpikingNet, target: Target, drive: np.ndarray, timesteps: tuple[int, ...],
              sharding: NamedSharding | None = None, rows: int = 1) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """readout_and_counts of `drive` padded with zero rows to a multiple of `rows` (every batch of
    an evaluation one shape: one compilation); with a sharding (runtime/devices.py), split over its
    devices. Padded rows are dropped: the same integers."""
    padded = padded_rows(drive, rows)
    if sharding is not None:
        padded = shard_rows(padded, sharding)
    return first_rows(readout_and_counts(net, target, padded, timesteps), len(drive))


def latency(net: SpikingNet, settled: np.ndarray, timesteps: int) -> Latency:
    """Latency from every sample's settled step (backends/jax/simulator.settled_steps), not before
    the first step at which the output can depend on the input (its shortest path + 1: earlier
    readings come from biases alone)."""
    settled = np.maximum(settled, path_depths(net, longest=False)[net.output.name] + 1)
    return Latency(timesteps=timesteps, mean_steps=float(settled.mean()), p90_steps=float(np.percentile(settled, 90)),
                   max_steps=int(settled.max()), depth=path_depths(net)[net.output.name])


def evaluate_artifact(art: Artifact, data: Path, timesteps: tuple[int, ...], limit: int | None,
                      devices: int | None = None) -> EvaluateResult:
    """Accuracy of the integer network at each T (sorted, distinct) and of the ANN; counts per layer
    and an energy estimate at the largest T. devices: split each batch's simulation over the first
    `devices` JAX devices (the ANN, a float reference, stays on one device)."""
    net, target = art.spiking, art.target
    sharding = None if devices is None else batch_sharding(devices)
    labels = load_labels(data, limit, classes=net.output.size)
    correct = {t: 0 for t in timesteps}
    ann_correct, seen, lowest = 0, 0, 0.0
    forward = jax.jit(lambda x: art.float_net.forward(x)[net.output.name])
    tally, settled = CountTally(net, timesteps[-1]), []
    rows = even_rows(len(labels), BATCH)
    for batch in tracked(iter_x(data, net.sample_shape, rows, len(labels)), "evaluating", len(labels)):
        y = labels[seen: seen + len(batch)]
        seen += len(batch)
        lowest = min(lowest, float(batch.min()))
        out, counts, steps = simulated(net, target, net.encode(batch), timesteps, sharding, rows)
        tally.add(counts)
        settled.append(steps)
        for t in timesteps:
            correct[t] += _correct(out[t], y)
        ann_correct += _correct(forward(padded_rows(batch, rows))[:len(batch)], y)
    if seen == 0:
        raise SnncError(f"{data}: no samples")
    layers = tally.layers()
    return EvaluateResult(samples=seen, results=tuple(TimestepAccuracy(timesteps=t, accuracy=correct[t] / seen,
                                                                        correct=correct[t]) for t in timesteps),
                          ann_accuracy=ann_correct / seen, latency=latency(net, np.concatenate(settled), timesteps[-1]),
                          layers=layers,
                          energy=energy_estimate(net, layers, target, timesteps[-1]),
                          warnings=_clipped_inputs(net, lowest) + _before_the_answer(net, timesteps))


def _before_the_answer(net, timesteps: tuple[int, ...]) -> tuple[str, ...]:
    """An output read at a fixed step (TTFS) holds no answer before it: say so for smaller T."""
    read = getattr(net.output, "read_step", 0)
    early = [t for t in timesteps if t < read]
    if not early:
        return ()
    return (f"this network's answer is read at step {read} (compiled for it with --timesteps-hint); "
            f"the accuracy at T = {', '.join(map(str, early))} is read before it",)


def _clipped_inputs(net, lowest: float) -> tuple[str, ...]:
    """A network compiled on non-negative calibration data reads negative inputs as 0: say so."""
    if lowest >= 0 or net.encoding.signed:
        return ()
    return (f"the data has values below 0 (down to {lowest:.3g}), which this network reads as 0: its calibration "
            "data had none; compile with calibration data that has them to split each input by sign",)
