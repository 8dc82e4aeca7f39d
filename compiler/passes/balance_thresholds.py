"""Threshold balancing: the activation scale lambda of every population, from calibration data.

lambda is the given percentile of the population's positive float activations (the ANN's) over
all calibration samples and neurons; 100 means the maximum. Quantization maps lambda to the
neuron's maximal useful rate. The same pass records each population's largest synaptic sum
(max |sum_q W_q x_q| and max |sum_q W_q x_q + b| over the calibration data: what a sigma-delta
neuron's 24-bit sigma and act must hold) and each neuron's mean activation (for the sigma-delta
bias correction). The statistics are streamed: a fixed log-spaced histogram per population (4096
bins over 1e-8..1e8, bin ratio 1.009), running maxima and sums, so memory does not grow with the
calibration set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

from snnc.compiler.ir.spiking import FloatNet
from snnc.compiler.passes.split_capped_relu import capped_base

EDGES = np.logspace(-8, 8, 4097)
DEFAULT_PERCENTILE = 99.9


@dataclass(frozen=True)
class Calibration:
    batches: Callable[[], Iterable[np.ndarray]]  # a fresh iterator of input batches per call
    percentile: float | None = None  # None: DEFAULT_PERCENTILE, or searched where the coding has levels (search_scales.py)
    lowest: float = 0.0  # the data's smallest value: below 0, the input is split by sign (split_signed_input.py)

    @property
    def scale_percentile(self) -> float:
        return DEFAULT_PERCENTILE if self.percentile is None else self.percentile


@dataclass(frozen=True)
class Statistics:
    scales: dict[str, float]  # lambda per population
    sums: dict[str, float]  # the largest |synaptic sum|, with or without the bias, per population
    means: dict[str, np.ndarray] | None = None  # each neuron's mean activation (after its ReLU); None without data
    histograms: dict[str, np.ndarray] | None = None  # positive activations counted in the bins of EDGES; None without data
    peaks: dict[str, float] | None = None  # the largest activation per population; None without data


def activation_statistics(net: FloatNet, calibration: Calibration) -> Statistics:
    hist = {p.name: np.zeros(len(EDGES) + 1, np.int64) for p in net.populations}
    peak = {p.name: 0.0 for p in net.populations}
    sums = {p.name: 0.0 for p in net.populations}
    totals = {p.name: np.zeros(p.size) for p in net.populations}
    samples = 0
    for outputs in (piece for batch in calibration.batches() for piece in net.pre_activation_batches(batch)):
        rows = len(outputs[net.populations[0].name])
        samples += rows
        for pop in net.populations:
            values = outputs[pop.name].reshape(rows, -1)
            activations = pop.activation(values)
            totals[pop.name] += activations.sum(axis=0, dtype=np.float64)
            positive = activations[activations > 0]
            if positive.size:
                hist[pop.name] += np.bincount(np.searchsorted(EDGES, positive), minlength=len(EDGES) + 1)
                peak[pop.name] = max(peak[pop.name], float(positive.max()))
            unbiased = values - np.asarray(pop.bias, np.float32).reshape(1, -1)
            sums[pop.name] = max(sums[pop.name], float(np.abs(values).max(initial=0)), float(np.abs(unbiased).max(initial=0)))
    # Inputs are bounded data (pixel intensities): their scale is the maximum.
    scales = {p.name: _percentile(hist[p.name], peak[p.name], 100.0 if p.role == "input" else calibration.scale_percentile,
                                  p.cap) for p in net.populations}
    means = {p.name: (totals[p.name] / max(samples, 1)).reshape(p.shape) for p in net.populations}
    return Statistics(scales, sums, means, hist, peak)


def _percentile(hist: np.ndarray, peak: float, q: float, cap: float | None = None) -> float:
    if peak == 0.0:  # a population that never fires on the calibration data: any scale is exact (within its cap)
        return 1.0 if cap is None else min(1.0, cap)
    if q >= 100:
        return peak
    rank = np.searchsorted(np.cumsum(hist), q / 100 * hist.sum())
    upper = EDGES[min(rank, len(EDGES) - 1)]
    return float(min(upper, peak))


def weight_bound_statistics(net: FloatNet, input_max: float = 1.0) -> Statistics:
    """Without calibration data: bounds on each population's activation (its scale) and on its
    |synaptic sum| for inputs in [0, input_max]."""
    bound, sums = {}, {}
    for pop in net.populations:
        if pop.role == "input":
            bound[pop.name] = sums[pop.name] = input_max
            continue
        positive = np.maximum(pop.bias, 0).astype(np.float32)
        magnitude = np.abs(pop.bias).astype(np.float32)
        for q in net.incoming(pop.name):
            src = net.population(q.src)
            ones = np.full((1, *src.shape), bound[q.src], np.float32)
            positive = positive + np.asarray(q.replace(weight=np.maximum(q.weight, 0)).apply(ones, src.shape, pop.shape))[0]
            magnitude = magnitude + np.asarray(q.replace(weight=np.abs(q.weight)).apply(ones, src.shape, pop.shape))[0]
        bound[pop.name] = float(pop.activation(positive).max()) or 1.0
        sums[pop.name] = float(magnitude.max()) or 1.0
    return Statistics(bound, sums)


def balance_thresholds(net: FloatNet, target, calibration: Calibration | None) -> tuple[Statistics, list[str]]:
    if calibration is None:
        return weight_bound_statistics(net), ["no calibration data: scales from weight bounds (expect lower accuracy)"]
    stats = activation_statistics(net, calibration)
    scales = dict(stats.scales)
    for name in scales:  # a capped ReLU's part above the cap shares its ReLU's scale (split_capped_relu.py)
        if capped_base(name) in scales:
            scales[name] = max(scales[name], scales[capped_base(name)])
    note = f"scales: {calibration.scale_percentile:g}th percentile of positive activations; input: maximum"
    return replace(stats, scales=scales), [note]
