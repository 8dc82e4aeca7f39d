"""A SpikingNet -> the Lava process graph that runs it (as specs; build.py makes the processes).

Only parameters on which Lava's fixed_pt CPU models and the chip agree are emitted:
  - Dense and Sparse keep weight_exp (both apply it); their weights are already on the signed
    8-bit grid that Lava's sign-mode clip/truncate leaves unchanged (quantize.to_weight_grid);
  - Conv ignores weight_exp and pads symmetrically in Lava, and holds its kernel size, stride,
    padding and groups as int8 (128 groups wrap to -128: the output is silently all zero), so a
    convolution becomes a Lava Conv only with weight_exp 0, equal padding on both sides, the same
    output shape and every geometry value below 128; any other becomes a Sparse process holding
    the convolution's synapses explicitly.
"""

from __future__ import annotations

import numpy as np

from snnc.backends.lava.specs import ConvSpec, LavaGraph, MatrixSpec
from snnc.compiler.ir.spiking import Projection, SpikingNet
from snnc.compiler.ir.synapses import synapse_matrix
from snnc.targets import Target


def lava_graph(net: SpikingNet, target: Target, drives: np.ndarray, steps: int) -> LavaGraph:
    """The processes that run `net` on the input population's drives (B, *input shape) for `steps`
    steps per sample."""
    populations = tuple(p.lava(np.asarray(drives, np.int32) if i == 0 else None, steps, target)
                        for i, p in enumerate(net.populations))
    return LavaGraph(populations, lava_connections(net, target))


def lava_connections(net: SpikingNet, target: Target) -> tuple:
    pops = {p.name: p for p in net.populations}
    return tuple(_connection(q, pops[q.src].shape, pops[q.dst].shape, target.graded_bits if pops[q.src].graded else 0)
                 for q in net.projections)

def _connection(q: Projection, src_shape, dst_shape, message_bits: int):
    if q.conv is None:
        return MatrixSpec("dense", q.src, q.dst, src_shape, dst_shape, np.asarray(q.weight, np.int32), q.weight_exp,
                          message_bits)
    if q.weight_exp == 0 and _lava_conv_fits(q, src_shape, dst_shape):
        (pt, _), (pl, _) = q.conv.pads
        weight = np.ascontiguousarray(np.asarray(q.weight, np.int32)[::-1, ::-1].transpose(3, 1, 0, 2))
        return ConvSpec(q.src, q.dst, src_shape, dst_shape, weight, (pl, pt), q.conv.strides[::-1], q.conv.groups,
                        message_bits)
    return MatrixSpec("sparse", q.src, q.dst, src_shape, dst_shape, synapse_matrix(q, src_shape, dst_shape), q.weight_exp,
                      message_bits)


def _lava_conv_fits(q: Projection, src_shape, dst_shape) -> bool:
    (pt, pb), (pl, pr) = q.conv.pads
    kh, kw = q.weight.shape[:2]
    sh, sw = q.conv.strides
    out = ((src_shape[0] + 2 * pt - kh) // sh + 1, (src_shape[1] + 2 * pl - kw) // sw + 1)
    int8 = max(kh, kw, sh, sw, pt, pl, q.conv.groups) <= np.iinfo(np.int8).max
    return int8 and pt == pb and pl == pr and out == tuple(dst_shape[:2])
