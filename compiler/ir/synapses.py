"""Projections as explicit synapse matrices: for Lava's Sparse process and for synapse counts."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from snnc.compiler.ir.spiking import Projection


def synapse_matrix(q: Projection, src_shape, dst_shape) -> sparse.csr_matrix:
    """A projection's synapses as a (n_dst, n_src) matrix over the C-order flattening of both
    populations (zero weights dropped)."""
    if q.conv is None:
        return sparse.csr_matrix(np.asarray(q.weight))
    H, W, C = src_shape
    OH, OW, O = dst_shape
    kh, kw, cin_g, _ = q.weight.shape
    (pt, _), (pl, _) = q.conv.pads
    sh, sw = q.conv.strides
    oh, ow, o, i, j, c = np.meshgrid(*(np.arange(n) for n in (OH, OW, O, kh, kw, cin_g)), indexing="ij")
    h, w = oh * sh + i - pt, ow * sw + j - pl
    channel = (o // (O // q.conv.groups)) * cin_g + c
    values = np.asarray(q.weight, np.int32)[i, j, c, o]
    keep = (h >= 0) & (h < H) & (w >= 0) & (w < W) & (values != 0)
    rows = ((oh * OW + ow) * O + o)[keep]
    cols = ((h * W + w) * C + channel)[keep]
    return sparse.csr_matrix((values[keep], (rows, cols)), shape=(OH * OW * O, H * W * C), dtype=np.int32)
