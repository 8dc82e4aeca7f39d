"""Scale search: each hidden population's activation scale lambda chosen for the least error of its
quantized activation, instead of a fixed percentile.

Rate, population and TTFS coding carry an activation a of scale lambda as one of L + 1 levels (a
count of L = rho (T - d) spikes, a thermometer over L neurons, a spike time in a window of L
steps):
    Q(a) = lambda / L * min(round(a L / lambda), L).
A large lambda spends the levels on rare large values, a small one clips them; at the few levels
of a short T the percentile that suits T = 64 wastes most of them. Per population the search takes
the lambda that minimizes E[(Q(a) - a)^2] over the calibration data's activations, read from the
histogram balance_thresholds kept (4096 log-spaced bins, so no further pass over the data), on a
grid from the largest activation down to 1/64 of it in steps of 2^(-1/32). (The MSE-optimal
clipping of low-bit activations, Banner et al. 2019; a threshold per layer chosen by its error,
Li et al. 2021.) A capped ReLU's two parts (split_capped_relu.py) share one lambda, chosen for the
error of what the next layer reads, Q(a) - Q(relu(a - c)) against min(a, c). The input keeps its
maximum (bounded data), the output (read as a potential, never clipped) its percentile.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnc.compiler.ir.spiking import FloatNet
from snnc.compiler.passes.balance_thresholds import EDGES, Statistics
from snnc.compiler.passes.split_capped_relu import cap_of, capped_base

GRID = 2.0 ** (-np.arange(193) / 32)  # lambda / the largest activation: 1 down to 1/64

# The value each histogram bin stands for: its geometric middle (the first and last bins are open).
_CENTERS = np.concatenate([[EDGES[0]], np.sqrt(EDGES[:-1] * EDGES[1:]), [EDGES[-1]]])


def _quantized(a: np.ndarray, scale: np.ndarray, levels: float) -> np.ndarray:
    """Q(a) for every scale (a column) and value (a row)."""
    return scale / levels * np.minimum(np.rint(a * levels / scale), levels)


def _best_scale(counts: np.ndarray, peak: float, levels: float, cap: float | None) -> float:
    used = counts > 0
    a, weight = np.minimum(_CENTERS[used], peak)[:, None], counts[used][:, None]
    scale = peak * GRID[None, :]
    if cap is None:
        error = _quantized(a, scale, levels) - a
    else:
        error = _quantized(a, scale, levels) - _quantized(np.maximum(a - cap, 0), scale, levels) - np.minimum(a, cap)
    return float(scale[0, np.argmin((weight * error ** 2).sum(axis=0))])


def search_scales(net: FloatNet, stats: Statistics, levels: float) -> tuple[Statistics, list[str]]:
    scales = dict(stats.scales)
    above_cap = {capped_base(p.name): p.name for p in net.populations if capped_base(p.name) is not None}
    for pop in net.populations:
        if pop.role != "hidden" or capped_base(pop.name) is not None or stats.peaks[pop.name] == 0.0:
            continue  # never active on the calibration data: balance_thresholds' scale (any is exact) stays
        above = above_cap.get(pop.name)
        split_cap = None if above is None else cap_of(above)
        # at most the peak, so a population kept whole with its cap (at or above its peak) gets one within it
        scales[pop.name] = _best_scale(stats.histograms[pop.name], stats.peaks[pop.name], levels, split_cap)
        if above is not None:
            scales[above] = scales[pop.name]
    return replace(stats, scales=scales), [f"scales: each hidden layer's for the least error at {levels:g} levels "
                                           "(input: maximum; output: percentile)"]
