"""Threshold balancing: the activation scale lambda of every population, from calibration data.

lambda is the given percentile of the population's positive float activations (the ANN's) over
all calibration samples and neurons; 100 means the maximum. Quantization maps lambda to the
neuron's maximal useful rate. The statistics are streamed: a fixed log-spaced histogram per
population (4096 bins over 1e-8..1e8, bin ratio 1.009) and a running maximum, so memory does
not grow with the calibration set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import jax
import numpy as np

from snnc.compiler.ir.spiking import FloatNet
from snnc.compiler.passes.split_capped_relu import capped_base

EDGES = np.logspace(-8, 8, 4097)


@dataclass(frozen=True)
class Calibration:
    batches: Callable[[], Iterable[np.ndarray]]  # a fresh iterator of input batches per call
    percentile: float = 99.9


def activation_scales(net: FloatNet, calibration: Calibration) -> dict[str, float]:
    forward = jax.jit(net.forward)
    hist = {p.name: np.zeros(len(EDGES) + 1, np.int64) for p in net.populations}
    peak = {p.name: 0.0 for p in net.populations}
    for batch in calibration.batches():
        for name, values in forward(batch).items():
            positive = np.asarray(values).ravel()
            positive = positive[positive > 0]
            if positive.size:
                hist[name] += np.bincount(np.searchsorted(EDGES, positive), minlength=len(EDGES) + 1)
                peak[name] = max(peak[name], float(positive.max()))
    # Inputs are bounded data (pixel intensities): their scale is the maximum.
    return {p.name: _percentile(hist[p.name], peak[p.name], 100.0 if p.role == "input" else calibration.percentile)
            for p in net.populations}


def _percentile(hist: np.ndarray, peak: float, q: float) -> float:
    if peak == 0.0:
        return 1.0  # a population that never fires on the calibration data: any scale is exact
    if q >= 100:
        return peak
    rank = np.searchsorted(np.cumsum(hist), q / 100 * hist.sum())
    upper = EDGES[min(rank, len(EDGES) - 1)]
    return float(min(upper, peak))


def weight_bound_scales(net: FloatNet, input_max: float = 1.0) -> dict[str, float]:
    """Without calibration data: bounds on each population's activation for inputs in [0, input_max]."""
    bound = {}
    for pop in net.populations:
        if pop.role == "input":
            bound[pop.name] = input_max
            continue
        total = np.maximum(pop.bias, 0).astype(np.float32)
        for q in net.incoming(pop.name):
            src = net.population(q.src)
            ones = np.full((1, *src.shape), bound[q.src], np.float32)
            total = total + np.asarray(q.replace(weight=np.maximum(q.weight, 0)).apply(ones, src.shape, pop.shape))[0]
        bound[pop.name] = float(total.max()) or 1.0
    return bound


def balance_thresholds(net: FloatNet, target, calibration: Calibration | None) -> tuple[dict[str, float], list[str]]:
    if calibration is None:
        return weight_bound_scales(net), ["no calibration data: scales from weight bounds (expect lower accuracy)"]
    scales = activation_scales(net, calibration)
    for name in scales:  # a capped ReLU's part above the cap shares its ReLU's scale (split_capped_relu.py)
        if capped_base(name) in scales:
            scales[name] = max(scales[name], scales[capped_base(name)])
    return scales, [f"scales: {calibration.percentile:g}th percentile of positive activations; input: maximum"]
