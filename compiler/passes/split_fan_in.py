"""Split a projection whose fan-in the target cannot hold into partial sums carried by relays.

A population whose neurons receive more synapses than the target's max_fan_in (VGG-16's 3x3
convolutions over 512 channels: 4608) gets its widest incoming projections (the widest first,
until the rest fits) each cut, along its source's
channels (a convolution) or neurons (a dense projection), into `parts` partial sums p_1..p_k, each
within the limit. ReLU neurons carry only non-negative values, so each partial sum travels as two
relay populations, relu(p_j) and relu(-p_j), and the population adds relu(p_j) - relu(-p_j) = p_j:
the same activation in the ANN, one projection (one step) later on the chip. The relays of a
convolution are one grouped convolution (group j reads channel block j), their sum a 1x1
convolution; of a dense projection, a block-masked matrix and a sum of k ones per row.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.ir.spiking import ConvGeometry, FloatNet, FloatPopulation, Projection
from snnc.compiler.resources import fan_in
from snnc.targets import Target

RESERVED = 2  # synapses per neuron the quantization may add: a projection onto itself, a tonic bias


def split_fan_in(net: FloatNet, target: Target, copies: int = 1) -> tuple[FloatNet, list[str]]:
    """copies: neurons that will carry each value (population coding), each synapse becoming that many."""
    limit = target.max_fan_in // copies
    populations, projections, notes = [], list(net.projections), []
    for pop in net.populations:
        incoming = [q for q in projections if q.dst == pop.name]
        total = sum(fan_in(q) for q in incoming)
        if pop.role not in ("hidden", "output") or total <= limit:
            populations.append(pop)
            continue
        relays, replaced, added, split_notes, wide = [], {}, [], [], total
        for widest in sorted(incoming, key=fan_in, reverse=True):  # the widest first, until the rest fits
            if total <= limit - RESERVED:
                break
            split = _split(widest, pop, limit - RESERVED, "" if not relays else str(len(relays) // 2 + 1))
            if split is None:
                break
            pair, new, parts = split
            relays += pair
            replaced[id(widest)] = new[0]
            added += new[1:]
            total += sum(fan_in(q) for q in new if q.dst == pop.name) - fan_in(widest)
            how = f"split into {parts} partial sums" if parts > 1 else "sent whole (2 synapses per neuron)"
            split_notes.append(f"{pop.name}: fan-in {wide} > {limit}: the projection from {widest.src} {how}, "
                               f"carried by relays {pair[0].name} and {pair[1].name} "
                               f"({2 * pair[0].size} neurons, one step more latency)")
        if total > limit - RESERVED:  # fan_in_violations names it
            populations.append(pop)
            continue
        populations += [*relays, pop]
        projections = [replaced.get(id(q), q) for q in projections] + added
        notes += split_notes
    return dataclasses.replace(net, populations=tuple(populations), projections=tuple(projections)), notes


def _split(q: Projection, dst: FloatPopulation, limit: int, tag: str = ""):
    """The relays (positive, negative), the projections (into the relays, then from them into dst)
    that replace q and the number of partial sums, or None where q cannot be split within `limit`."""
    if q.conv is None:
        n_src = q.weight.shape[1]
        parts = -(-fan_in(q) // limit)
        blocks = np.array_split(np.arange(n_src), parts)
        if max(np.count_nonzero(q.weight[:, b], axis=1).max(initial=0) for b in blocks) > limit:
            return None
        partial = np.concatenate([np.where(np.isin(np.arange(n_src), b), q.weight, 0) for b in blocks])
        total = np.tile(np.eye(dst.size, dtype=np.float32), (1, parts))
        into = out_of = None
        shape = (parts * dst.size,)
    else:
        kh, kw, cin, cout = q.weight.shape
        if q.conv.groups != 1:
            return None
        parts = next((p for p in range(-(-fan_in(q) // limit), cin + 1) if cin % p == 0), None)
        if parts is None or kh * kw * (cin // parts) > limit:
            return None
        blocks = np.split(q.weight, parts, axis=2)  # (kh, kw, cin / parts, cout) each
        partial = np.concatenate(blocks, axis=3)  # group j's outputs: channels j * cout .. (j + 1) * cout
        total = np.tile(np.eye(cout, dtype=np.float32), (parts, 1))[None, None]  # (1, 1, parts * cout, cout)
        into = ConvGeometry(q.conv.strides, q.conv.pads, parts)
        out_of = ConvGeometry((1, 1), ((0, 0), (0, 0)), 1)
        shape = (*dst.shape[:2], parts * cout)
    relays = tuple(FloatPopulation(f"{dst.name}_part{tag}_{sign}", shape, "hidden", np.zeros(shape, np.float32), dst.layer)
                   for sign in ("pos", "neg"))
    new = []
    for relay, sign in zip(relays, (np.float32(1), np.float32(-1))):
        new += [Projection(q.src, relay.name, sign * partial, into),
                Projection(relay.name, dst.name, sign * total, out_of)]
    return relays, new, parts
