"""Cross-layer equalization of channel ranges (Nagel et al., "Data-Free Quantization Through Weight
Equalization and Bias Correction", ICCV 2019), for codings whose weights share one scale per
destination population (sigma-delta).

A ReLU is positively homogeneous: relu(x / s) = relu(x) / s for s > 0. So channel c of a hidden
population can carry its activation divided by s_c (every weight into the channel and its bias
divided by s_c) while every weight reading the channel is multiplied by s_c: the network computes
the same function. With r_c the largest |weight| into channel c and o_c the largest |weight| out of
it, s_c = sqrt(r_c / o_c) makes both sqrt(r_c o_c): a channel whose incoming weights are far below
the population's largest (BatchNorm folding makes such channels) no longer rounds to a few levels
of the per-population 8-bit grid, and the weights it feeds give up a matching share. The
populations are equalized once each, in network order (more sweeps, towards Nagel's fixed point,
measured no better on the model suite). s_c stays within [1 / MAX_FACTOR, MAX_FACTOR]; a channel without
incoming or outgoing weights keeps s_c = 1. A capped ReLU's two populations (P and P.above{c},
compiler/passes/split_capped_relu.py) share one s, so that the part above the cap keeps the
scale of its ReLU. Only hidden populations read by projections alone take part (not the input, the
output, or a population read by a max pooling).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.ir.spiking import FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.split_capped_relu import capped_base

SWEEPS = 1
MAX_FACTOR = 16.0


def equalize_channels(net: FloatNet) -> tuple[FloatNet, list[str]]:
    groups = _groups(net)
    if not groups:
        return net, []
    spread = 1.0
    for names in groups:
        s = _factors(net, names)
        net = _scaled(net, names, s)
        spread = max(spread, float(s.max() / s.min()))
    return net, [f"cross-layer equalization of the channel ranges of {sum(map(len, groups))} populations (largest "
                 f"ratio of two channels' factors: {spread:.3g})"]


def _groups(net: FloatNet) -> list[tuple[str, ...]]:
    """The populations equalized together: each hidden one with the parts above its cap."""
    readers_by_max = {q.src for q in net.projections if net.population(q.dst).role == "max"}
    eligible = [p.name for p in net.populations  # a cap kept whole would have to scale with each channel: not equalized
                if p.role == "hidden" and p.cap is None and p.name not in readers_by_max]
    above = {}
    for name in eligible:
        base = capped_base(name)
        if base is not None:
            above.setdefault(base, []).append(name)
    groups = []
    for name in eligible:
        if capped_base(name) is None:
            members = (name, *above.get(name, ()))
            if all(m in eligible for m in members):
                groups.append(members)
    return groups


def _channels(pop: FloatPopulation) -> int:
    """A 3-D population's channels are its last axis; a flat one's, its neurons."""
    return pop.shape[-1] if len(pop.shape) == 3 else pop.size


def _per_neuron(pop: FloatPopulation, s: np.ndarray) -> np.ndarray:
    return np.broadcast_to(s, pop.shape).reshape(-1) if len(pop.shape) == 3 else s


def _input_channel(q: Projection) -> np.ndarray:
    """For a convolution's kernel (kh, kw, C_src / groups, C_dst): the source channel of each (i, o)."""
    _, _, per_group, outputs = q.weight.shape
    group = np.arange(outputs) // (outputs // q.conv.groups)
    return group[None, :] * per_group + np.arange(per_group)[:, None]


def _per_channel(per_neuron: np.ndarray, pop: FloatPopulation) -> np.ndarray:
    """The largest of a dense projection's per-neuron values over each channel of pop."""
    return per_neuron.reshape(-1, pop.shape[-1]).max(axis=0) if len(pop.shape) == 3 else per_neuron


def _into(q: Projection, dst: FloatPopulation) -> np.ndarray:
    """The largest |weight| of q into each channel of dst."""
    w = np.abs(q.weight)
    if q.conv is not None:
        return w.reshape(-1, w.shape[-1]).max(axis=0)
    return _per_channel(w.max(axis=1), dst)


def _out_of(q: Projection, src: FloatPopulation) -> np.ndarray:
    """The largest |weight| of q out of each channel of src."""
    w = np.abs(q.weight)
    channels = _channels(src)
    if q.conv is not None:
        out = np.zeros(channels)
        np.maximum.at(out, np.broadcast_to(_input_channel(q), w.shape[2:]).reshape(-1),
                      w.max(axis=(0, 1)).reshape(-1))
        return out
    return _per_channel(w.max(axis=0), src)


def _factors(net: FloatNet, names: tuple[str, ...]) -> np.ndarray:
    pop = net.population(names[0])
    into = np.zeros(_channels(pop))
    out = np.zeros(_channels(pop))
    for q in net.projections:
        if q.dst in names:
            into = np.maximum(into, _into(q, net.population(q.dst)))
        if q.src in names:
            out = np.maximum(out, _out_of(q, net.population(q.src)))
    live = (into > 0) & (out > 0)
    s = np.ones_like(into)
    s[live] = np.sqrt(into[live] / out[live])
    return np.clip(s, 1 / MAX_FACTOR, MAX_FACTOR)


def _scaled(net: FloatNet, names: tuple[str, ...], s: np.ndarray) -> FloatNet:
    """Channel c of every population in names carries its activation / s_c."""
    populations = tuple(p if p.name not in names else
                        dataclasses.replace(p, bias=(p.bias / np.broadcast_to(s, p.shape)).astype(np.float32))
                        for p in net.populations)
    projections = []
    for q in net.projections:
        if q.dst not in names and q.src not in names:
            projections.append(q)
            continue
        w = np.asarray(q.weight, np.float64)
        if q.dst in names:
            w = w / (s if q.conv is not None else _per_neuron(net.population(q.dst), s)[:, None])
        if q.src in names:
            w = w * (s[_input_channel(q)] if q.conv is not None else _per_neuron(net.population(q.src), s)[None, :])
        projections.append(q.replace(weight=w.astype(np.float32)))
    return dataclasses.replace(net, populations=populations, projections=tuple(projections))
