"""Bit-width fitting: a FloatNet and its activation scales -> a SpikingNet of Loihi integers.

Rate coding on integrate-and-fire neurons (du = target.if_du, dv = 0, hard reset). With lambda_p the
activation scale of population p and rho the rate that lambda maps to, a neuron of p receives
per step (in units of its threshold V_p = vth_p << vth_shift)
    sum_q (W_q lambda_src / lambda_p) r_src  +  rho b / lambda_p,
so its rate approximates rho a / lambda_p. Per population, vth_p is the largest integer such that
  - every incoming weight W' = W lambda_src / lambda_p times vth_p fits the signed 8-bit grid
    Lava and Loihi agree on (even values in [-254, 254] when a projection has both signs, whose
    LSB Lava's MIXED sign mode drops; [-255, 255] otherwise), and
  - the largest possible input current sum_q max_row sum |m| stays below 2^17 (so u never wraps
    and the float32 synaptic sums are exact).
Weights are W' vth_p rounded to that grid (weight_exp 0: negative exponents round differently in
Lava and on the chip). Biases are rho V_p b / lambda_p in a 13-bit mantissa and the smallest
exponent that fits. The output population never spikes in practice (vth at its maximum): its
potential accumulates the weighted input, read out as spikes * V + v. The input arrives as spike
trains the host generates at rate rho x / lambda_in (SpikeInput): a constant bias into a
hard-reset neuron could only fire at rates 1 / k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.spiking import (FloatNet, InputEncoding, LifPopulation, Projection, SpikeInput, SpikingNet,
                                     path_depths)
from snnc.errors import SnncError
from snnc.targets import Target



@dataclass(frozen=True)
class RateCoding:
    max_rate: float = 0.9  # rho: the rate (spikes per step) an activation of lambda maps to
    v_init: float = 0.5  # initial membrane potential as a fraction of the threshold
    timesteps: int = 64  # the T the network is tuned for (latency compensation)


def latency_factors(net: FloatNet, timesteps: int) -> tuple[dict[int, float], dict[str, float]]:
    """Every projection delays by one step. A population whose longest input path has d projections
    integrates real input for T - d of the T steps while its bias acts on all T, and a shorter
    (residual) path from a source at depth d_src delivers for T - d_src - 1 steps. Scaling each
    projection by (T - d_dst) / (T - d_src - 1) and each bias by (T - d_dst) / T restores the ANN's
    proportions in what a population has accumulated by step T. Factors by projection index and
    by population name."""
    depth = path_depths(net)
    window = {name: max(timesteps - d, 1) for name, d in depth.items()}
    weights = {i: window[q.dst] / max(timesteps - depth[q.src] - 1, 1) for i, q in enumerate(net.projections)}
    return weights, {name: window[name] / timesteps for name in depth}


def to_weight_grid(scaled: np.ndarray, target: Target) -> np.ndarray:
    """Round to integers Lava's Dense keeps unchanged (its sign mode is chosen from the values)."""
    top = 2 ** target.weight_bits - 1  # 8-bit magnitude with a separate sign mode
    m = np.rint(scaled)
    if (m < 0).any() and (m > 0).any():  # MIXED: 8 bits including the sign, LSB dropped
        m = 2 * np.rint(scaled / 2)
        top -= 1
    return np.clip(m, -top, top).astype(np.int32)


def max_input_current(weights: list[np.ndarray], kinds: list[str]) -> int:
    """Largest |a_in| any neuron can receive: per projection the largest row sum of |W|."""
    total = 0
    for w, kind in zip(weights, kinds):
        a = np.abs(w.astype(np.int64))
        total += int(a.sum(axis=1).max() if kind == "dense" else a.reshape(-1, a.shape[-1]).sum(axis=0).max())
    return total


def split_bias(bias_v: np.ndarray, target: Target) -> tuple[np.ndarray, int]:
    """bias ~= mant << exp with a signed mantissa; the smallest exponent that fits."""
    low, high = target.bias_mant_range
    peak = float(np.abs(bias_v).max(initial=0.0))
    exp = 0
    while peak / 2 ** exp > high and exp < target.bias_exp_max:
        exp += 1
    return np.clip(np.rint(bias_v / 2 ** exp), low, high).astype(np.int32), exp


def _population_threshold(scaled: list[np.ndarray], kinds: list[str], target: Target, name: str) -> int:
    peak = max(float(np.abs(w).max(initial=0.0)) for w in scaled)
    vth = target.vth_max if peak == 0 else int(min(target.vth_max, (2 ** target.weight_bits - 2) / peak))
    while vth >= 1:
        grids = [to_weight_grid(w * vth, target) for w in scaled]
        if max_input_current(grids, kinds) <= target.max_input_current:
            return vth
        vth = int(vth * 0.98)
    raise SnncError(f"population {name!r}: even at threshold 1 its weights on the 8-bit grid could drive more than "
                    f"{target.max_input_current} (the 24-bit current): its activation scale is too small for its "
                    "inputs' (a larger percentile gives larger scales)")


def quantize(net: FloatNet, target: Target, scales: dict[str, float], coding: RateCoding) -> tuple[SpikingNet, list[str]]:
    rho = coding.max_rate
    inp = net.populations[0]
    full = target.input_full
    encoding = InputEncoding(gain=rho * full / scales[inp.name], max_mant=full)
    pops = [SpikeInput(inp.name, inp.shape, "input", full, scales[inp.name], inp.layer)]
    projections: list[Projection] = []
    weight_factor, bias_factor = latency_factors(net, coding.timesteps)
    index = {id(q): i for i, q in enumerate(net.projections)}
    for pop in net.populations[1:]:
        incoming = net.incoming(pop.name)
        scaled = [q.weight * (scales[q.src] / scales[pop.name] * weight_factor[index[id(q)]]) for q in incoming]
        kinds = [q.kind for q in incoming]
        theta = _population_threshold(scaled, kinds, target, pop.name)
        projections += [q.replace(weight=to_weight_grid(w * theta, target)) for q, w in zip(incoming, scaled)]
        v_threshold = theta << target.vth_shift
        mant, exp = split_bias(rho * v_threshold * pop.bias * bias_factor[pop.name] / scales[pop.name], target)
        output = pop.role == "output"
        pops.append(LifPopulation(
            pop.name, pop.shape, pop.role, target.vth_max if output else theta, mant, exp,
            0 if output else int(coding.v_init * v_threshold), target.if_du, 0, scales[pop.name], pop.layer))
    notes = [f"rate coding: activation lambda -> {rho:g} spikes/step, v_init {coding.v_init:g} x threshold; "
             "input as host-generated spike trains (reset by subtraction, no hard-reset loss); "
             f"biases and residual paths compensated for each layer's latency at T={coding.timesteps}"]
    return SpikingNet(tuple(pops), tuple(projections), encoding, net.notes), notes
