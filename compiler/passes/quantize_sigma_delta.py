"""Bit-width fitting for sigma-delta neurons with graded spikes (Loihi 2): a FloatNet, its activation
scales and its largest synaptic sums -> a SpikingNet that computes the quantized ANN within
depth + 1 steps.

Population p sends its activation a_p as a graded payload of about a_p * P_p. A population q
accumulates sigma_q = sum_p W_pq payload_p ~ a_q * G_q, so its weights are W' = w G_q / P_src on
the signed 8-bit grid; its payload is act >> state_exp, P_q = G_q / 2^state_exp. Biases are b G_q
in payload units (b G_q / 2^state_exp); the delta threshold is one payload LSB, so changes below it
wait in the residue.

The bits of sigma are shared out between the layers. Write A_q = G_q lambda_q (q's act at its
scale) in bits: a payload keeps at least payload_bits at lambda (state_exp takes act down to it,
but only by state_exp_max bits), so a source with A above payload_bits + state_exp_max sends finer
payloads and its readers' weights W' ~ A_q / P_src get coarser. A_q is bounded by the headroom
(act and sigma of the largest synaptic sum seen in calibration at most 2^(graded_bits - 1 -
HEADROOM_BITS), so sums 2^HEADROOM_BITS times larger still fit the 24 bits) and by the weight grid
(the peak incoming W' at most 254). Within those bounds the A_q are chosen, in network order, so
that the smallest population peak W' over the network is as large as it can be; then every A_q
rises as far as it can without making its payloads finer (the output, read by nobody, to its
bounds). A projection whose weights all round to zero makes its source send coarser payloads
(coarse_payload_bits), else it is refused. Each bias absorbs the mean error its population's
rounded weights add on the calibration data (docs/semantics.md). With a static input each population's act is final once
its deepest input path has delivered; the output population (no ReLU) is read as act.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.spiking import FloatNet, InputEncoding, Projection, SigmaDeltaPopulation, SpikingNet
from snnc.compiler.passes.quantize import to_weight_grid
from snnc.errors import SnncError
from snnc.targets import Target


HEADROOM_BITS = 2  # sigma and act hold synaptic sums up to 4 x the largest seen in calibration
BETA_STEP = 1 / 16  # bits: the resolution of the search for the smallest peak weight


@dataclass(frozen=True)
class SigmaDeltaCoding:
    payload_bits: int = 10  # an activation of lambda is sent as a payload of about 2^payload_bits,
    coarse_payload_bits: int = 8  # or 2^coarse_payload_bits where the finer one rounds a projection to zero
    vth: int = 1  # delta threshold in payload LSBs


class _RoundsToZero(Exception):
    def __init__(self, projection: Projection, largest: float):
        self.projection, self.largest = projection, largest


def quantize_sigma_delta(net: FloatNet, target: Target, scales: dict[str, float], coding: SigmaDeltaCoding,
                         sums: dict[str, float] | None = None,
                         means: dict[str, np.ndarray] | None = None) -> tuple[SpikingNet, list[str]]:
    """The finest payloads first; a population whose payload is so fine that a projection from it
    rounds to all-zero weights (the gain of its destination is capped) sends coarser ones. sums: the
    largest |synaptic sum| per population (balance_thresholds.Statistics); without, the scales.
    means: each neuron's mean activation on the calibration data, for the bias correction."""
    sums = scales if sums is None else sums
    if not target.sigma_delta:
        raise SnncError(f"{target.name} has no sigma-delta neurons; compile with the rate coding or for a Loihi 2 target")
    coarse: set[str] = set()
    while True:
        try:
            return _quantized(net, target, scales, sums, means, coding, coarse)
        except _RoundsToZero as zero:
            q = zero.projection
            if q.src in coarse or coding.coarse_payload_bits >= coding.payload_bits:
                raise SnncError(f"projection {q.src!r} -> {q.dst!r}: every sigma-delta weight rounds to 0 (the "
                                f"largest is {zero.largest:.2f} of one LSB); the activation scales of {q.src!r} "
                                f"and {q.dst!r} are too far apart for 8-bit weights") from None
            coarse.add(q.src)


def _payload_bits(act_bits: float, full_bits: int, target: Target) -> float:
    """log2 of a payload at lambda for act at lambda 2^act_bits: act >> state_exp."""
    return act_bits - _state_exp(act_bits, full_bits, target)


def _state_exp(act_bits: float, full_bits: int, target: Target) -> int:
    return int(np.clip(np.round(act_bits - full_bits), 0, target.state_exp_max))


def _reach(peaks: list[tuple[str, float]], pop, payload_bits: dict[str, float], scales: dict[str, float]) -> float:
    """log2 of pop's peak incoming W' per unit of A_pop (-inf without weights); peaks: (source,
    largest |weight|) of each incoming projection."""
    peak = max(w * scales[src] / 2.0 ** payload_bits[src] for src, w in peaks)
    return np.log2(peak / scales[pop.name]) if peak > 0 else -np.inf


def _act_bits(net: FloatNet, target: Target, scales: dict[str, float], sums: dict[str, float],
              full: dict[str, int], coarse: set[str]) -> dict[str, float]:
    """log2 A_q per population (module docstring): the largest smallest peak weight, then each
    raised within its bounds and the flat part of its payload."""
    grid = np.log2(2 ** target.weight_bits - 2)
    headroom = target.graded_bits - 1 - HEADROOM_BITS
    upper = {p.name: headroom - np.log2(max(sums[p.name], scales[p.name]) / scales[p.name]) for p in net.populations}
    for name in coarse:  # payloads no finer than 2^coarse, however far state_exp reaches
        upper[name] = min(upper[name], full[name] + target.state_exp_max)
    inp = net.populations[0].name
    peaks = {p.name: [(q.src, float(np.abs(q.weight).max(initial=0.0))) for q in net.incoming(p.name)]
             for p in net.populations[1:]}

    def assign(beta: float) -> dict[str, float] | None:
        payload, act = {inp: float(full[inp])}, {}
        for pop in net.populations[1:]:
            act[pop.name] = max(float(full[pop.name]), beta - _reach(peaks[pop.name], pop, payload, scales))
            if act[pop.name] > upper[pop.name] + 1e-9:
                return None
            payload[pop.name] = _payload_bits(act[pop.name], full[pop.name], target)
        return act

    betas = np.arange(grid, -grid, -BETA_STEP)
    act = next((a for a in map(assign, betas) if a is not None), None) or {
        p.name: min(float(full[p.name]), upper[p.name]) for p in net.populations[1:]}
    readers = {q.src for q in net.projections}
    for pop in net.populations[1:]:
        flat = full[pop.name] + target.state_exp_max if pop.name in readers else np.inf
        act[pop.name] = min(upper[pop.name], max(act[pop.name], flat))
    return act


def _rounding_error(q: Projection, rounded: np.ndarray, net: FloatNet, means: dict[str, np.ndarray] | None):
    """The mean error the rounded weights (in the float weights' units) add to each neuron of q.dst
    on the calibration data: the error weights applied to the source's mean activation (exact, as
    the sum is linear). Zero without data."""
    dst = net.population(q.dst)
    if means is None:
        return np.zeros(dst.shape)
    error = q.replace(weight=(rounded - q.weight).astype(np.float32))
    return np.asarray(error.apply(means[q.src][None].astype(np.float32), net.population(q.src).shape, dst.shape))[0]


def _quantized(net: FloatNet, target: Target, scales: dict[str, float], sums: dict[str, float],
               means: dict[str, np.ndarray] | None, coding: SigmaDeltaCoding,
               coarse: set[str]) -> tuple[SpikingNet, list[str]]:
    full_bits = {p.name: coding.coarse_payload_bits if p.name in coarse else coding.payload_bits
                 for p in net.populations}
    full = {name: 2.0 ** bits for name, bits in full_bits.items()}
    act_bits = _act_bits(net, target, scales, sums, full_bits, coarse)
    bias_max = 2 ** (target.sd_bias_bits - 1) - 1
    inp = net.populations[0]
    payload_gain = {inp.name: full[inp.name] / scales[inp.name]}
    pops = [SigmaDeltaPopulation(inp.name, inp.shape, "input", coding.vth, np.zeros(inp.shape, np.int32), 0,
                                 scales[inp.name], inp.layer)]
    projections: list[Projection] = []
    for pop in net.populations[1:]:
        incoming = net.incoming(pop.name)
        per_gain = [q.weight / payload_gain[q.src] for q in incoming]  # weights per unit of G_q
        peak = max(float(np.abs(w).max(initial=0.0)) for w in per_gain)
        fit = (2 ** target.weight_bits - 2) / peak if peak > 0 else np.inf
        gain = min(fit, 2.0 ** act_bits[pop.name] / scales[pop.name])
        error = np.zeros(pop.shape)
        for q, w in zip(incoming, per_gain):
            weight = to_weight_grid(w * gain, target)
            if np.any(q.weight) and not np.any(weight):
                raise _RoundsToZero(q, float(np.abs(w).max()) * gain)
            projections.append(q.replace(weight=weight))
            error += _rounding_error(q, weight / gain * payload_gain[q.src], net, means)
        exp = _state_exp(np.log2(gain * scales[pop.name]), full_bits[pop.name], target)
        payload_gain[pop.name] = gain / 2 ** exp
        bias = np.rint((pop.bias - error) * gain / 2 ** exp)
        if np.abs(bias).max(initial=0) > bias_max:
            raise SnncError(f"population {pop.name!r}: sigma-delta bias exceeds {target.sd_bias_bits} bits")
        pops.append(SigmaDeltaPopulation(pop.name, pop.shape, pop.role, coding.vth, bias.astype(np.int32), exp,
                                         scales[pop.name], pop.layer))
    encoding = InputEncoding(gain=payload_gain[inp.name], max_mant=bias_max)
    notes = [f"sigma-delta: graded spikes, activation lambda -> payload 2^{coding.payload_bits}"
             + (f" (2^{coding.coarse_payload_bits} from {', '.join(sorted(coarse))})" if coarse else "")
             + f", delta threshold {coding.vth} payload LSB; state exponents "
             + ", ".join(f"{p.name} {p.state_exp}" for p in pops[1:])]
    return SpikingNet(tuple(pops), tuple(projections), encoding, net.notes), notes
