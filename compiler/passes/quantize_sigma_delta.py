"""Bit-width fitting for sigma-delta neurons with graded spikes (Loihi 2): a FloatNet and its
activation scales -> a SpikingNet that computes the quantized ANN within depth + 1 steps.

Population p sends its activation a_p as a graded payload of about a_p * P_p, where the payload
gain P_p maps the activation scale lambda_p to 2^payload_bits. A population q accumulates
sigma_q = sum_p W_pq payload_p ~ a_q * G_q, so its weights are W' = w G_q / P_src on the signed
8-bit grid, with G_q the largest gain for which every incoming weight fits; its payload is
act >> state_exp with state_exp chosen so that P_q = G_q / 2^state_exp ~ 2^payload_bits / lambda_q.
Biases are b G_q in payload units (b G_q / 2^state_exp); the delta threshold is one payload LSB,
so changes below it wait in the residue. G_q is capped so that act at lambda_q stays below 2^18:
sigma keeps 24 bits for activations up to 32 lambda_q. Where that cap binds, state_exp (at most
state_exp_max) cannot bring the payload down to 2^payload_bits, and payloads are finer (up to
2^11 at lambda): the next layer's weights are then coarser. The output population sends nothing
and is read as act, so its cap is 2^(graded_bits - 3): 4 x its scale fits 24 bits, and its
weights keep their resolution (an 18-bit cap rounded a ResNet-20's pooled dense output to all
zeros). A projection whose weights all round to zero is refused. With a static input each
population's act is final once its deepest input path has delivered; the output population (no
ReLU) is read as act.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.spiking import FloatNet, InputEncoding, Projection, SigmaDeltaPopulation, SpikingNet
from snnc.compiler.passes.quantize import to_weight_grid
from snnc.errors import SnncError
from snnc.targets import Target


ACT_AT_SCALE_BITS = 18  # act at lambda <= 2^18: sigma fits 24 bits up to 32 x lambda
OUTPUT_HEADROOM_BITS = 2  # the output is only read: act at its lambda <= 2^(graded_bits - 1 - 2)


@dataclass(frozen=True)
class SigmaDeltaCoding:
    payload_bits: int = 10  # an activation of lambda is sent as a payload of about 2^payload_bits,
    coarse_payload_bits: int = 8  # or 2^coarse_payload_bits where the finer one rounds a projection to zero
    vth: int = 1  # delta threshold in payload LSBs


class _RoundsToZero(Exception):
    def __init__(self, projection: Projection, largest: float):
        self.projection, self.largest = projection, largest


def quantize_sigma_delta(net: FloatNet, target: Target, scales: dict[str, float],
                         coding: SigmaDeltaCoding) -> tuple[SpikingNet, list[str]]:
    """The finest payloads first; a population whose payload is so fine that a projection from it
    rounds to all-zero weights (the gain of its destination is capped) sends coarser ones."""
    if not target.sigma_delta:
        raise SnncError(f"{target.name} has no sigma-delta neurons; compile with the rate coding or for a Loihi 2 target")
    coarse: set[str] = set()
    while True:
        try:
            return _quantized(net, target, scales, coding, coarse)
        except _RoundsToZero as zero:
            q = zero.projection
            if q.src in coarse or coding.coarse_payload_bits >= coding.payload_bits:
                raise SnncError(f"projection {q.src!r} -> {q.dst!r}: every sigma-delta weight rounds to 0 (the "
                                f"largest is {zero.largest:.2f} of one LSB); the activation scales of {q.src!r} "
                                f"and {q.dst!r} are too far apart for 8-bit weights") from None
            coarse.add(q.src)


def _quantized(net: FloatNet, target: Target, scales: dict[str, float], coding: SigmaDeltaCoding,
               coarse: set[str]) -> tuple[SpikingNet, list[str]]:
    full = {p.name: 2.0 ** (coding.coarse_payload_bits if p.name in coarse else coding.payload_bits)
            for p in net.populations}
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
        gain = (2 ** target.weight_bits - 2) / peak if peak > 0 else full[pop.name] / scales[pop.name]
        act_bits = target.graded_bits - 1 - OUTPUT_HEADROOM_BITS if pop.role == "output" else ACT_AT_SCALE_BITS
        gain = min(gain, 2.0 ** act_bits / scales[pop.name])
        if pop.name in coarse:  # its payload at lambda no finer than 2^coarse, however far state_exp reaches
            gain = min(gain, 2.0 ** (coding.coarse_payload_bits + target.state_exp_max) / scales[pop.name])
        for q, w in zip(incoming, per_gain):
            weight = to_weight_grid(w * gain, target)
            if np.any(q.weight) and not np.any(weight):
                raise _RoundsToZero(q, float(np.abs(w).max()) * gain)
            projections.append(q.replace(weight=weight))
        exp = int(np.clip(np.round(np.log2(gain * scales[pop.name] / full[pop.name])), 0, target.state_exp_max))
        payload_gain[pop.name] = gain / 2 ** exp
        bias = np.rint(pop.bias * gain / 2 ** exp)
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
