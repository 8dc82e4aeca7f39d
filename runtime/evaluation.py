"""Evaluate an artifact on labelled data with the JAX reference simulator, batch by batch."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from snnc.backends.jax.simulator import readout_and_counts
from snnc.errors import SnncError
from snnc.runtime.artifact import Artifact
from snnc.runtime.counts import CountTally, energy_estimate
from snnc.runtime.data import iter_x, load_labels
from snnc.runtime.progress import tracked
from snnc.runtime.results import EvaluateResult, TimestepAccuracy

BATCH = 256


def first_samples(data: Path, input_shape: tuple[int, ...], count: int) -> np.ndarray:
    x = next(iter_x(Path(data), input_shape, count, count), None)
    if x is None:
        raise SnncError(f"{data}: no samples")
    return x


def _correct(scores, labels: np.ndarray) -> int:
    return int((np.asarray(scores).reshape(len(labels), -1).argmax(1) == labels).sum())


def evaluate_artifact(art: Artifact, data: Path, timesteps: tuple[int, ...], limit: int | None) -> EvaluateResult:
    """Accuracy of the integer network at each T (sorted, distinct) and of the ANN; counts per layer
    and an energy estimate at the largest T."""
    net, target = art.spiking, art.target
    labels = load_labels(data, limit, classes=net.output.size)
    correct = {t: 0 for t in timesteps}
    ann_correct, seen = 0, 0
    forward = jax.jit(lambda x: art.float_net.forward(x)[net.output.name])
    tally = CountTally(net, timesteps[-1])
    for batch in tracked(iter_x(data, net.input.shape, BATCH, len(labels)), "evaluating", len(labels)):
        y = labels[seen: seen + len(batch)]
        seen += len(batch)
        out, counts = readout_and_counts(net, target, net.encode(batch), timesteps)
        tally.add(counts)
        for t in timesteps:
            correct[t] += _correct(out[t], y)
        ann_correct += _correct(forward(batch), y)
    if seen == 0:
        raise SnncError(f"{data}: no samples")
    layers = tally.layers()
    return EvaluateResult(samples=seen, results=tuple(TimestepAccuracy(timesteps=t, accuracy=correct[t] / seen,
                                                                        correct=correct[t]) for t in timesteps),
                          ann_accuracy=ann_correct / seen, layers=layers,
                          energy=energy_estimate(net, layers, target, timesteps[-1]))
