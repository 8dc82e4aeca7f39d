"""Bit-width fitting for population coding: a FloatNet and its activation scales -> a SpikingNet in
which every activation a of a hidden population is carried by n neurons (along the channel axis:
value c becomes channels c n .. c n + n - 1) that fire, at every step, as a thermometer code of
a / lambda: copy k fires iff a / lambda > (2k + 1) / (2n). The neurons are memoryless LIFs (reset
every step, lif_reset.py), so a population answers one step after its inputs, and the network
after depth + 1 steps, with the n-level quantized ANN's answer from then on.

With G_p the gain of population p (integer input per unit of a_p / lambda_p), a projection's
weight from copy l of source value j to copy k of destination value i is
    W_ij lambda_j / (n_j lambda_i) G_i          (n_j: the source's copies; 1 for the output's sources)
rounded to the signed 8-bit grid, with G_i the largest gain for which every weight fits and the
largest input current stays below 2^17. Copy k's bias is G_i 2^vth_shift (b_i / lambda_i -
(2k + 1) / (2n)) and its threshold 0, so it fires iff its input exceeds its level. The output
population (one neuron per value, threshold at its maximum) is read as its potential,
G 2^vth_shift (a / lambda). The input arrives from the host as the same thermometer code
(InputEncoding.levels): every active copy spikes at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.neurons.lif_reset import LifResetPopulation
from snnc.compiler.ir.spiking import FloatNet, InputEncoding, SpikeInput, SpikingNet
from snnc.compiler.passes.quantize import max_input_current, split_bias, to_weight_grid
from snnc.errors import SnncError
from snnc.targets import Target


@dataclass(frozen=True)
class PopulationCoding:
    levels: int = 8  # n: neurons per activation value


def _expanded(shape: tuple[int, ...], copies: int) -> tuple[int, ...]:
    return (*shape[:-1], shape[-1] * copies)


def _copied(weight: np.ndarray, conv: bool, src_copies: int, dst_copies: int) -> np.ndarray:
    """A projection's weights between expanded populations: each source copy drives each destination
    copy with the value's weight. Dense (n_dst, n_src) and HWIO kernels alike: the C-order flat
    index of copy k of value i is i * copies + k, and channel c's copies are channels c * copies + k."""
    ones = np.ones((1, 1, src_copies, dst_copies) if conv else (dst_copies, src_copies), weight.dtype)
    return np.kron(weight, ones)


def _gain(scaled: list[np.ndarray], kinds: list[str], offset: np.ndarray, target: Target) -> float:
    """The largest gain at which the weights fit the grid, the biases their mantissa and exponent,
    and the input current its bound."""
    peak = max(float(np.abs(w).max(initial=0.0)) for w in scaled)
    gain = (2 ** target.weight_bits - 2) / peak if peak > 0 else 1.0
    bias_peak = float(np.abs(offset).max(initial=0.0)) * (1 << target.vth_shift)
    if bias_peak > 0:
        gain = min(gain, target.bias_mant_range[1] * 2 ** target.bias_exp_max / bias_peak)
    while max_input_current([to_weight_grid(w * gain, target) for w in scaled], kinds) > target.max_input_current:
        gain *= 0.98
        if gain < 1e-6:
            raise SnncError("a population's fan-in is too large for 24-bit currents at any gain")
    return gain


def quantize_population(net: FloatNet, target: Target, scales: dict[str, float],
                        coding: PopulationCoding) -> tuple[SpikingNet, list[str]]:
    n = coding.levels
    inp = net.populations[0]
    copies = {p.name: (1 if p.role == "output" else n) for p in net.populations}
    full = target.input_full
    pops = [SpikeInput(inp.name, _expanded(inp.shape, n), "input", full, scales[inp.name], inp.layer)]
    projections = []
    for pop in net.populations[1:]:
        incoming = net.incoming(pop.name)
        k = copies[pop.name]
        scaled = [_copied(q.weight * scales[q.src] / (copies[q.src] * scales[pop.name]), q.conv is not None,
                          copies[q.src], k) for q in incoming]
        level = (2 * np.arange(k) + 1) / (2 * k) if pop.role != "output" else np.zeros(1)
        offset = pop.bias[..., None] / scales[pop.name] - level  # per value and copy
        gain = _gain(scaled, [q.kind for q in incoming], offset, target)
        projections += [q.replace(weight=to_weight_grid(w * gain, target)) for q, w in zip(incoming, scaled)]
        mant, exp = split_bias(gain * (1 << target.vth_shift) * offset.reshape(_expanded(pop.shape, k)), target)
        vth = target.vth_max if pop.role == "output" else 0
        pops.append(LifResetPopulation(pop.name, _expanded(pop.shape, k), pop.role, vth, mant, exp,
                                       scales[pop.name], pop.layer))
    encoding = InputEncoding(gain=full / scales[inp.name], max_mant=full, levels=n)
    notes = [f"population coding: {n} memoryless LIF neurons per activation, a thermometer code of a / lambda "
             f"({n} levels); the answer is final from step depth + 1"]
    return SpikingNet(tuple(pops), tuple(projections), encoding, net.notes), notes
