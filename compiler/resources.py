"""Synapse counts, and the cores a network needs, computed from counts: never a list of synapses.

A projection's synapses are its nonzero weights at every place they apply: dense, each nonzero
W[dst, src]; conv, for each output neuron each tap that falls inside the source (zero padding has
no synapses) whose weight is nonzero. Every count here is exact and is computed from the weights
and small per-axis arrays (which taps are valid for each output row and column), in O(weights +
neurons) time and memory, never O(synapses): a VGG-16 is counted without building its 15 billion
conv synapses. compiler/ir/synapses.synapse_matrix (the explicit matrix, for Lava's Sparse process)
gives the same numbers; tests/test_targets_placement.py checks them exactly.

Core estimate: each on-chip population gets cores of its own, filled with contiguous ranges of its
neurons (C-order flat index) while a core has room for both the neurons (target.neurons_per_core)
and their incoming synapses (target.synapse_bytes each, no sharing of convolution weights, within
target.synapse_bytes_per_core). Host spike sources need no cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snnc.compiler.ir.spiking import Projection, SpikingNet
from snnc.targets import Target

Box = tuple[tuple[int, int], ...]  # [lo, hi) along each axis


def fan_in(proj) -> int:
    """Synapses per destination neuron of a projection: its nonzero weights (a zero weight is no
    synapse), the most any row of a dense one or any output channel of a conv's kernel has (at most
    its source, or its kernel, kh x kw x C_in / groups)."""
    weight = np.asarray(proj.weight)
    if proj.kind == "dense":
        return int((weight != 0).sum(axis=1).max(initial=0))
    return int((weight != 0).reshape(-1, weight.shape[-1]).sum(axis=0).max(initial=0))


def _valid_taps(n_out: int, k: int, stride: int, pad: int, n_in: int) -> np.ndarray:
    """(n_out, k) bool: tap i of output position o reads input o * stride + i - pad, inside [0, n_in)."""
    pos = np.arange(n_out)[:, None] * stride + np.arange(k)[None, :] - pad
    return (pos >= 0) & (pos < n_in)


def _reached(n_in: int, k: int, stride: int, pad: int, n_out: int) -> np.ndarray:
    """(n_in, k) bool: input position h is read through tap i by some output position in [0, n_out)."""
    offset = np.arange(n_in)[:, None] + pad - np.arange(k)[None, :]
    return (offset >= 0) & (offset % stride == 0) & (offset // stride < n_out)


def _geometry(q: Projection, src_shape, dst_shape):
    (H, W, C), (OH, OW, O) = src_shape, dst_shape
    kh, kw, cin_g, _ = q.weight.shape
    (pt, _), (pl, _) = q.conv.pads
    (sh, sw) = q.conv.strides
    return (H, W, C), (OH, OW, O), (kh, kw, cin_g), (pt, pl), (sh, sw)


def _per_tap(q: Projection, src_shape, dst_shape) -> tuple[np.ndarray, np.ndarray]:
    """Valid output positions per tap along each axis: (kh,) and (kw,) int64."""
    (H, W, _), (OH, OW, _), (kh, kw, _), (pt, pl), (sh, sw) = _geometry(q, src_shape, dst_shape)
    return (_valid_taps(OH, kh, sh, pt, H).sum(0, dtype=np.int64),
            _valid_taps(OW, kw, sw, pl, W).sum(0, dtype=np.int64))


def synapses_in(q: Projection, src_shape, dst_shape) -> np.ndarray:
    """Nonzero synapses into each destination neuron, (n_dst,) int64 over its C-order flattening."""
    nonzero = np.asarray(q.weight) != 0
    if q.conv is None:
        return nonzero.sum(axis=1, dtype=np.int64)
    (H, W, _), (OH, OW, _), (kh, kw, _), (pt, pl), (sh, sw) = _geometry(q, src_shape, dst_shape)
    per_out = nonzero.sum(axis=2, dtype=np.int64)  # (kh, kw, O): nonzero weights per tap and output channel
    rows = _valid_taps(OH, kh, sh, pt, H).astype(np.int64)
    cols = _valid_taps(OW, kw, sw, pl, W).astype(np.int64)
    return np.einsum("ai,bj,ijo->abo", rows, cols, per_out, optimize=True).reshape(-1)


def synapses_out(q: Projection, src_shape, dst_shape) -> np.ndarray:
    """Nonzero synapses out of each source neuron (its fan-out), (n_src,) int64."""
    nonzero = np.asarray(q.weight) != 0
    if q.conv is None:
        return nonzero.sum(axis=0, dtype=np.int64)
    (H, W, C), (OH, OW, O), (kh, kw, cin_g), (pt, pl), (sh, sw) = _geometry(q, src_shape, dst_shape)
    groups = q.conv.groups
    # per tap and source channel g * cin_g + c: the output channels of group g with a nonzero weight
    per_in = nonzero.reshape(kh, kw, cin_g, groups, O // groups).sum(axis=4, dtype=np.int64)
    per_in = per_in.transpose(0, 1, 3, 2).reshape(kh, kw, C)
    rows = _reached(H, kh, sh, pt, OH).astype(np.int64)
    cols = _reached(W, kw, sw, pl, OW).astype(np.int64)
    return np.einsum("ai,bj,ijc->abc", rows, cols, per_in, optimize=True).reshape(-1)


def synapse_count(q: Projection, src_shape, dst_shape) -> int:
    """All nonzero synapses of a projection."""
    nonzero = np.asarray(q.weight) != 0
    if q.conv is None:
        return int(nonzero.sum())
    rows, cols = _per_tap(q, src_shape, dst_shape)
    return int(np.einsum("i,j,ijco->", rows, cols, nonzero.astype(np.int64)))


def ann_macs(q: Projection, src_shape, dst_shape) -> int:
    """Multiply-accumulates the ANN spends on the projection per inference (zero weights included,
    zero padding not): the synapses of the same projection with every weight 1."""
    if q.conv is None:
        return int(np.asarray(q.weight).size)
    rows, cols = _per_tap(q, src_shape, dst_shape)
    _, _, cin_g, out = q.weight.shape
    return int(rows.sum()) * int(cols.sum()) * cin_g * out


def boxes(start: int, stop: int, shape) -> list[Box]:
    """The C-order flat index range [start, stop) of an array of `shape` as at most 2 * ndim - 1
    boxes (a [lo, hi) per axis)."""
    if start >= stop:
        return []
    if len(shape) == 1:
        return [((start, stop),)]
    inner = math.prod(shape[1:])
    (a, ra), (b, rb) = divmod(start, inner), divmod(stop, inner)
    if a == b:
        return [((a, a + 1), *box) for box in boxes(ra, rb, shape[1:])]
    out = [((a, a + 1), *box) for box in boxes(ra, inner, shape[1:])] if ra else []
    a += bool(ra)
    if b > a:
        out.append(((a, b), *((0, n) for n in shape[1:])))
    return out + [((b, b + 1), *box) for box in boxes(0, rb, shape[1:])]


def _box_synapses(q: Projection, nonzero: np.ndarray, src_shape, dst_shape, src: Box, dst: Box) -> int:
    """Conv synapses from the neurons of box src to those of box dst: per tap, the output rows of
    dst whose input row lies in src (likewise columns), times the nonzero weights joining the
    channel ranges."""
    (_, _, _), (_, _, O), (kh, kw, cin_g), (pt, pl), (sh, sw) = _geometry(q, src_shape, dst_shape)

    def axis(out_range, in_range, k, stride, pad):
        pos = np.arange(*out_range)[:, None] * stride + np.arange(k)[None, :] - pad
        return ((pos >= in_range[0]) & (pos < in_range[1])).sum(0, dtype=np.int64)

    rows, cols = axis(dst[0], src[0], kh, sh, pt), axis(dst[1], src[1], kw, sw, pl)
    o = np.arange(O)
    channel = (o // (O // q.conv.groups))[None, :] * cin_g + np.arange(cin_g)[:, None]  # (cin_g, O): source channel
    joined = (channel >= src[2][0]) & (channel < src[2][1]) & (o >= dst[2][0]) & (o < dst[2][1])
    per_tap = (nonzero & joined).sum(axis=(2, 3), dtype=np.int64)  # (kh, kw)
    return int(rows @ per_tap @ cols)


def synapses_between(q: Projection, src_shape, dst_shape, src_range: tuple[int, int],
                     dst_range: tuple[int, int]) -> int:
    """Nonzero synapses from source neurons [a, b) to destination neurons [c, d) (C-order flat
    indices), exactly, without listing them."""
    nonzero = np.asarray(q.weight) != 0
    if q.conv is None:
        return int(nonzero[slice(*dst_range), slice(*src_range)].sum())
    return sum(_box_synapses(q, nonzero, src_shape, dst_shape, s, d)
               for d in boxes(*dst_range, dst_shape) for s in boxes(*src_range, src_shape))


def incoming_synapses(net: SpikingNet, name: str) -> np.ndarray:
    """Nonzero synapses into each neuron of population `name`, over all its incoming projections."""
    pop = net.population(name)
    total = np.zeros(pop.size, np.int64)
    for q in net.incoming(name):
        total += synapses_in(q, net.population(q.src).shape, pop.shape)
    return total


def split(per_neuron_bytes: np.ndarray, target: Target) -> tuple[int, ...]:
    """Contiguous neuron ranges, one per core, filled in order while the core has room for the next
    neuron and its synapses: the boundaries (0, ..., n). A neuron whose synapses alone exceed a core
    gets a core of its own (and resource_violations names it)."""
    n = len(per_neuron_bytes)
    cum = np.concatenate([[0], np.cumsum(per_neuron_bytes, dtype=np.int64)])
    bounds, start = [0], 0
    while start < n:
        fits = int(np.searchsorted(cum, cum[start] + target.synapse_bytes_per_core, side="right")) - 1
        start = max(min(start + target.neurons_per_core, n, fits), start + 1)
        bounds.append(start)
    return tuple(bounds)


@dataclass(frozen=True)
class CoreUsage:
    population: str
    layer: str
    neurons: int
    synapses: int  # incoming synapses (nonzero weights)
    cores: int
    bounds: tuple[int, ...] = field(default=(), repr=False)  # core k holds neurons [bounds[k], bounds[k+1])
    neuron_bytes_max: int = 0  # the synapse memory of the neuron with the most incoming synapses


def core_usage(net: SpikingNet, target: Target) -> tuple[CoreUsage, ...]:
    rows = []
    for pop in net.populations:
        if not pop.on_chip:
            continue
        per_neuron = incoming_synapses(net, pop.name) * target.synapse_bytes
        bounds = split(per_neuron, target)
        rows.append(CoreUsage(pop.name, pop.layer, pop.size, int(per_neuron.sum()) // target.synapse_bytes,
                              len(bounds) - 1, bounds, int(per_neuron.max(initial=0))))
    return tuple(rows)


def chips_needed(usage: tuple[CoreUsage, ...], target: Target) -> int:
    return math.ceil(sum(u.cores for u in usage) / target.cores_per_chip)


def resource_violations(usage: tuple[CoreUsage, ...], target: Target) -> list[str]:
    """Every resource limit the network breaks: a neuron too big for any core, and too few chips."""
    problems = [f"population {u.population!r} (layer {u.layer}): a neuron's synapses need {u.neuron_bytes_max} bytes "
                f"> {target.synapse_bytes_per_core} bytes of synapse memory per core"
                for u in usage if u.neuron_bytes_max > target.synapse_bytes_per_core]
    cores = sum(u.cores for u in usage)
    capacity = target.cores_per_chip * target.chips
    if cores > capacity:
        problems.append(f"network: cores {cores} > {capacity} ({target.chips} chip(s) x {target.cores_per_chip} cores; "
                        + ", ".join(f"{u.population} {u.cores}" for u in usage)
                        + f"), so the network needs {chips_needed(usage, target)} chips, target has {target.chips} "
                        f"(compile with --chips {chips_needed(usage, target)}, or for a board, e.g. --target kapoho-point)")
    return problems


def neuron_core_violations(net, target: Target) -> list[str]:
    """A lower bound on the chips any placement needs, from the populations' sizes alone (each on
    cores of its own; the input population, which the host may drive, left out). Needs no weights,
    so compile checks it on the FloatNet, before calibration and quantization."""
    cores = sum(math.ceil(p.size / target.neurons_per_core) for p in net.populations[1:])
    chips = math.ceil(cores / target.cores_per_chip)
    if chips <= target.chips:
        return []
    return [f"network needs at least {chips} chips for its neurons alone ({cores} cores of {target.neurons_per_core} "
            f"neurons, {target.cores_per_chip} cores per chip), target has {target.chips}"]
