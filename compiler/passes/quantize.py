"""Bit-width fitting: a FloatNet and its activation scales -> a SpikingNet of Loihi integers.

Rate coding on integrate-and-fire neurons with reset by subtraction, from Lava's stock LIF (whose
own reset zeroes v and so loses the overshoot v - V at every spike, a loss that compounds over
layers). A hidden neuron integrates in its current u, and v only compares:
    u(t) = decay(u(t-1), du) + (a_in << act_shift),   v(t) = decay(v(t-1), 4095) + u(t) + O
with dv = 4095 (v keeps only v / 4096 of itself, which a spike zeroes anyway) and O = v_init V
a constant offset (V = vth << vth_shift). A projection of each neuron onto itself of weight -vth
(vth = m << e with m <= 255, so the weight is exact) subtracts V from u one step after every
spike: u - O is the soft-reset potential. du, u's leak, is the smallest for which u provably
never wraps (Target.max_current: |u| <= |a_in| 2^18 / (du + 1) < 2^23), at most MAX_LEAK of u
per step; vth is lowered until it fits.

With lambda_p the activation scale of population p and rho the rate that lambda maps to, a neuron
of p receives per step (in units of V)
    sum_q (W_q lambda_src / lambda_p) r_src  +  rho b / lambda_p,
so its rate approximates rho a / lambda_p. Per population, vth_p is the largest integer such that
every incoming weight W' = W lambda_src / lambda_p times vth_p fits the signed 8-bit grid Lava
and Loihi agree on (even values in [-254, 254] when a projection has both signs, whose LSB
Lava's MIXED sign mode drops; [-255, 255] otherwise) and the largest possible input current
sum_q max_row sum |m| (the self-projection and the bias included) fits. Weights are W' vth_p
rounded to that grid (weight_exp 0: negative exponents round differently in Lava and on the
chip). A hidden population's biases come as weights from a tonic host source
(compiler/ir/neurons/host.py) that fires at every step from the one at which p's first input can
arrive (its depth d: steps d + 1..T), on the same grid with the smallest exponent that fits. A
residual path from a source at depth d_src delivers for T - d_src - 1 steps instead: its weights
are scaled by (T - d) / (T - d_src - 1).
The output population never spikes in practice (vth at its maximum, hard reset, du = 4095,
dv = 0: v integrates the weighted input), read out as spikes * V + v; its bias comes from a tonic
source too, unless that synapse would exceed the target's fan-in (then from its own register,
scaled by (T - d) / T for the steps before its input arrives). The input arrives as spike
trains the host generates at rate rho x / lambda_in (SpikeInput, reset by subtraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.neurons.host import Tonic
from snnc.compiler.ir.spiking import (FloatNet, InputEncoding, LifPopulation, Projection, SpikeInput, SpikingNet,
                                     one_to_one, path_depths)
from snnc.compiler.resources import fan_in
from snnc.errors import SnncError
from snnc.targets import Target



@dataclass(frozen=True)
class RateCoding:
    max_rate: float = 1.0  # rho: the rate (spikes per step) an activation of lambda maps to
    v_init: float = 0.5  # the soft-reset potential a neuron starts from, as a fraction of its threshold
    timesteps: int = 64  # the T the network is tuned for (latency compensation)
    reset: str = "subtract"  # "subtract": soft reset (module docstring); "zero": Loihi's own hard reset

    @property
    def clips_at_scale(self) -> bool:
        """Whether a neuron carries at most lambda: at rate 1 an activation of lambda is one spike per
        step, the most it can send, and reset by subtraction keeps the rate linear up to there (the
        hard reset's rate is not, and its thresholds are recalibrated)."""
        return self.max_rate == 1.0 and self.reset == "subtract"


MAX_LEAK = 1 / 32  # the largest fraction of u a hidden neuron may lose per step (du + 1 <= 2^12 / 32)


def rate_levels(net: FloatNet, coding: RateCoding) -> float:
    """The spikes a neuron at rate rho sends by step T that reach the output: the output's input
    arrives from step d + 1 on (d its depth), and every population's spikes take as many steps less
    to reach it as they are closer, so each delivers T - d steps' worth."""
    return coding.max_rate * max(coding.timesteps - path_depths(net)[net.populations[-1].name], 1)


def residual_factors(net: FloatNet, timesteps: int) -> dict[int, float]:
    """Every projection delays by one step. A population whose longest input path has d projections
    integrates real input for T - d of the T steps, and a shorter (residual) path from a source at
    depth d_src delivers for T - d_src - 1 steps: scaling each projection by
    (T - d_dst) / (T - d_src - 1) restores the ANN's proportions in what a population has
    accumulated by step T. Factors by projection index."""
    depth = path_depths(net)
    window = {name: max(timesteps - d, 1) for name, d in depth.items()}
    return {i: window[q.dst] / max(timesteps - depth[q.src] - 1, 1) for i, q in enumerate(net.projections)}


def to_weight_grid(scaled: np.ndarray, target: Target) -> np.ndarray:
    """Round to integers Lava's Dense keeps unchanged (its sign mode is chosen from the values)."""
    top = 2 ** target.weight_bits - 1  # 8-bit magnitude with a separate sign mode
    m = np.rint(scaled)
    if (m < 0).any() and (m > 0).any():  # MIXED: 8 bits including the sign, LSB dropped
        m = 2 * np.rint(scaled / 2)
        top -= 1
    return np.clip(m, -top, top).astype(np.int32)


def largest_row_sum(w: np.ndarray, kind: str):
    """The largest sum of |W| into one neuron (exact: int64 for integer weights)."""
    a = np.abs(w.astype(np.int64) if np.issubdtype(w.dtype, np.integer) else w.astype(np.float64))
    return (a.sum(axis=1) if kind == "dense" else a.reshape(-1, a.shape[-1]).sum(axis=0)).max(initial=0)


def max_input_current(weights: list[np.ndarray], kinds: list[str]) -> int:
    """Largest |a_in| any neuron can receive: per projection the largest row sum of |W|."""
    return int(sum(largest_row_sum(w, kind) for w, kind in zip(weights, kinds)))


def split_bias(bias_v: np.ndarray, target: Target) -> tuple[np.ndarray, int]:
    """bias ~= mant << exp with a signed mantissa; the smallest exponent that fits."""
    low, high = target.bias_mant_range
    peak = float(np.abs(bias_v).max(initial=0.0))
    exp = 0
    while peak / 2 ** exp > high and exp < target.bias_exp_max:
        exp += 1
    return np.clip(np.rint(bias_v / 2 ** exp), low, high).astype(np.int32), exp


def on_exponent_grid(values: np.ndarray, target: Target) -> tuple[np.ndarray, int]:
    """values ~= grid << exp on the weight grid, with the smallest exponent that fits."""
    exp = 0
    while np.abs(values).max(initial=0) / 2 ** exp > 2 ** target.weight_bits - 2 and exp < target.weight_exp_max:
        exp += 1
    return to_weight_grid(values / 2 ** exp, target), exp


def _largest_threshold(scaled: list[np.ndarray], target: Target, fits, name: str, ceiling: float = np.inf) -> int:
    """The largest vth (at most ceiling) at which every weight W' vth fits the 8-bit grid and
    fits(vth) holds."""
    peak = max(float(np.abs(w).max(initial=0.0)) for w in scaled)
    vth = target.vth_max if peak == 0 else int(min(target.vth_max, (2 ** target.weight_bits - 2) / peak))
    vth = int(min(vth, ceiling))
    while vth >= 1:
        if fits(vth):
            return vth
        vth = int(vth * 0.98)
    raise SnncError(f"population {name!r}: even at threshold 1 its weights on the 8-bit grid could drive more current "
                    "than its 24-bit u holds: its activation scale is too small for its inputs' (a larger percentile "
                    "gives larger scales)")


def _self_weight(vth: int, target: Target) -> tuple[int, int]:
    """(m, e) with m << e = vth rounded down and m on the weight grid: -m at exponent e is the
    self-projection's exact weight."""
    exp = max(0, vth.bit_length() - target.weight_bits)
    return vth >> exp, exp


def _on_self_grid(vth: int, target: Target) -> int:
    mantissa, exp = _self_weight(vth, target)
    return mantissa << exp


def tonic_name(depth: int) -> str:
    """The tonic source of the biases of populations at `depth` (it fires from step depth on)."""
    return f"bias_from_{depth}"


def _at_threshold(scaled: list[np.ndarray], kinds: list[str], beta: np.ndarray, vth: int, target: Target):
    """At threshold vth: the grid weights, the bias weights (n, 1) from the tonic source and their
    exponent, and the largest input current they can drive."""
    weights = [to_weight_grid(w * vth, target) for w in scaled]
    bias, bias_exp = on_exponent_grid((beta * vth).reshape(-1, 1), target)
    return weights, bias, bias_exp, max_input_current(weights, kinds) + (int(np.abs(bias).max(initial=0)) << bias_exp)


def _hidden(pop, scale: float, scaled, incoming, beta, target: Target, coding: RateCoding):
    """A hidden population: soft-reset LIF (module docstring), its inputs and its self-projection."""
    kinds = [q.kind for q in incoming]
    leak_limit = int(MAX_LEAK * 2 ** target.decay_bits) - 1

    def leak(vth: int) -> int:
        vth = _on_self_grid(vth, target)
        return target.leak_for(_at_threshold(scaled, kinds, beta, vth, target)[3] + vth)

    # the current grows about linearly with vth: start the search where it would reach the limit; a
    # population whose inputs are large against its own scale (a rare activation: a capped ReLU's
    # part above the cap) may leak more, up to u = its input (du = 4095)
    per_vth = sum(largest_row_sum(w, kind) for w, kind in zip(scaled, kinds)) + 1 + float(np.abs(beta).max(initial=0))
    try:
        vth = _largest_threshold(scaled, target, lambda v: leak(v) <= leak_limit, pop.name,
                                 target.max_current(leak_limit) / per_vth)
    except SnncError:
        vth = _largest_threshold(scaled, target, lambda v: leak(v) < 2 ** target.decay_bits, pop.name,
                                 target.max_input_current / per_vth)
    vth = _on_self_grid(vth, target)
    weights, bias, bias_exp, _ = _at_threshold(scaled, kinds, beta, vth, target)
    mantissa, exp = _self_weight(vth, target)
    inhibition = one_to_one(pop.name, pop.name, pop.shape, np.int32(-mantissa), exp)
    offset, offset_exp = split_bias(np.full(pop.shape, coding.v_init * (vth << target.vth_shift)), target)
    neurons = LifPopulation(pop.name, pop.shape, pop.role, vth, offset, offset_exp, 0, leak(vth),
                            2 ** target.decay_bits - 1, scale, pop.layer)
    return neurons, weights, bias, bias_exp, [inhibition]


def _output(pop, scale: float, scaled, incoming, beta, target: Target, window: float):
    """The output population: integrates its weighted input in v and never spikes. Its bias comes
    from the tonic source like a hidden population's, unless that one synapse more would exceed
    the target's fan-in (an output pooled over 4096 inputs): then it stays in its own register,
    which v integrates from step 1, scaled by `window` = (T - d) / T."""
    kinds = [q.kind for q in incoming]
    tonic = sum(fan_in(q) for q in incoming) < target.max_fan_in
    fitted = beta if tonic else np.zeros_like(beta)
    theta = _largest_threshold(scaled, target,
                               lambda v: _at_threshold(scaled, kinds, fitted, v, target)[3] <= target.max_input_current,
                               pop.name)
    weights, bias, bias_exp, _ = _at_threshold(scaled, kinds, fitted, theta, target)
    mant, exp = split_bias(np.zeros(pop.shape) if tonic else beta * window * (theta << target.vth_shift), target)
    neurons = LifPopulation(pop.name, pop.shape, pop.role, target.vth_max, mant, exp, 0, target.if_du, 0, scale,
                            pop.layer)
    return neurons, weights, bias, bias_exp, []


def quantize(net: FloatNet, target: Target, scales: dict[str, float], coding: RateCoding) -> tuple[SpikingNet, list[str]]:
    return (_reset_to_zero if coding.reset == "zero" else _reset_by_subtraction)(net, target, scales, coding)


def _spike_input(net: FloatNet, target: Target, scales: dict[str, float], rho: float) -> tuple[InputEncoding, SpikeInput]:
    """The input: host-generated spike trains at rate rho x / lambda_in."""
    inp, full = net.populations[0], target.input_full
    return (InputEncoding(gain=rho * full / scales[inp.name], max_mant=full),
            SpikeInput(inp.name, inp.shape, "input", full, scales[inp.name], inp.layer))


def _layers(net: FloatNet, scales: dict[str, float], timesteps: int):
    """Per non-input population: it, its incoming projections, their weights in units of its scale
    (residual paths compensated) and its depth d."""
    factor, depth = residual_factors(net, timesteps), path_depths(net)
    index = {id(q): i for i, q in enumerate(net.projections)}
    for pop in net.populations[1:]:
        incoming = net.incoming(pop.name)
        scaled = [q.weight * (scales[q.src] / scales[pop.name] * factor[index[id(q)]]) for q in incoming]
        yield pop, incoming, scaled, depth[pop.name]


def _window(d: int, timesteps: int) -> float:
    """(T - d) / T: the part of T in which a population at depth d receives input."""
    return max(timesteps - d, 1) / timesteps


def _reset_by_subtraction(net: FloatNet, target: Target, scales: dict[str, float], coding: RateCoding):
    rho = coding.max_rate
    encoding, spike_input = _spike_input(net, target, scales, rho)
    projections: list[Projection] = []
    pops, starts = [], set()
    for pop, incoming, scaled, d in _layers(net, scales, coding.timesteps):
        beta = rho * np.broadcast_to(pop.bias, pop.shape) / scales[pop.name]
        scale = scales[pop.name]
        window = _window(d, coding.timesteps)
        neurons, weights, bias, bias_exp, extra = (
            _output(pop, scale, scaled, incoming, beta, target, window) if pop.role == "output" else
            _hidden(pop, scale, scaled, incoming, beta, target, coding))
        pops.append(neurons)
        projections += [q.replace(weight=w) for q, w in zip(incoming, weights)] + extra
        if bias.any() or pop.role == "hidden":  # a hidden one's even zero, for calibrate_biases to tune
            projections.append(Projection(tonic_name(d), pop.name, bias, weight_exp=bias_exp))
            starts.add(d)
    tonics = [Tonic(tonic_name(d), (1,), "bias", (d,), 1.0, "bias") for d in sorted(starts)]
    leaky = [f"{p.name} {(p.du + 1) / 2 ** target.decay_bits:.2g}" for p in pops
             if p.role == "hidden" and p.du + 1 > MAX_LEAK * 2 ** target.decay_bits]
    notes = [f"rate coding: activation lambda -> {rho:g} spikes/step; reset by subtraction (each neuron's projection "
             f"onto itself, u's leak at most {MAX_LEAK:g} per step"
             + (f", more where inputs are large against the population's own scale: {', '.join(leaky)}" if leaky else "")
             + f"), starting at {coding.v_init:g} x threshold; "
             "biases from tonic host sources switched on with each layer's first input; input as host-generated "
             f"spike trains; residual paths compensated for each layer's latency at T={coding.timesteps}"]
    return SpikingNet((spike_input, *tonics, *pops), tuple(projections), encoding, net.notes), notes


def _reset_to_zero(net: FloatNet, target: Target, scales: dict[str, float], coding: RateCoding):
    """Loihi's own LIF (hard reset, du = 4095, dv = 0: v integrates), the bias in v scaled by
    (T - d) / T for the steps before a population's first input; calibrate_thresholds then corrects
    each population's gain for the overshoot its resets lose."""
    rho = coding.max_rate
    encoding, spike_input = _spike_input(net, target, scales, rho)
    pops = [spike_input]
    projections: list[Projection] = []
    for pop, incoming, scaled, d in _layers(net, scales, coding.timesteps):
        kinds, no_bias = [q.kind for q in incoming], np.zeros(pop.shape)
        theta = _largest_threshold(scaled, target, lambda v: _at_threshold(
            scaled, kinds, no_bias, v, target)[3] <= target.max_input_current, pop.name)
        projections += [q.replace(weight=to_weight_grid(w * theta, target)) for q, w in zip(incoming, scaled)]
        v_threshold = theta << target.vth_shift
        mant, exp = split_bias(rho * v_threshold * pop.bias * _window(d, coding.timesteps) / scales[pop.name], target)
        output = pop.role == "output"
        pops.append(LifPopulation(
            pop.name, pop.shape, pop.role, target.vth_max if output else theta, mant, exp,
            0 if output else int(coding.v_init * v_threshold), target.if_du, 0, scales[pop.name], pop.layer))
    notes = [f"rate coding with Loihi's reset to zero: activation lambda -> {rho:g} spikes/step, v_init "
             f"{coding.v_init:g} x threshold; input as host-generated spike trains; biases and residual paths "
             f"compensated for each layer's latency at T={coding.timesteps}"]
    return SpikingNet(tuple(pops), tuple(projections), encoding, net.notes), notes
