"""The IR's channels-last arrays in the channels-first conventions of NIR and lava-dl netx
(PyTorch's): populations (H, W, C) -> (C, H, W), kernels HWIO -> OIHW, Dense columns over a 3-D
source in (C, H, W) order, and symmetric padding only."""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir.float_graph import Pads
from snnc.errors import SnncError


def chw(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(H, W, C) -> (C, H, W); other ranks unchanged."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def oihw(kernel_hwio: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(kernel_hwio, (3, 2, 0, 1)))


def chw_columns(weight: np.ndarray, src_shape: tuple[int, ...]) -> np.ndarray:
    """A Dense weight (n_dst, n_src) over the C-order flattening of an (H, W, C) source -> the same
    synapses with columns in the flattening order of the (C, H, W) source."""
    if len(src_shape) != 3:
        return weight
    h, w, c = src_shape
    return np.ascontiguousarray(weight.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(weight.shape[0], -1))


def symmetric_padding(kernel_hwio: np.ndarray, pads: Pads) -> tuple[np.ndarray, tuple[int, int]]:
    """One-sided or uneven pads (Keras "same" with a stride) as equal pads on both sides: the larger
    pad on both sides, the kernel grown by zero rows (columns) on the side that had less. Every
    output sees the same inputs with the same weights, and the output size is unchanged."""
    (top, bottom), (left, right) = pads
    grow = ((max(bottom - top, 0), max(top - bottom, 0)), (max(right - left, 0), max(left - right, 0)), (0, 0), (0, 0))
    return np.pad(kernel_hwio, grow), (max(top, bottom), max(left, right))


def channel_bias(bias: np.ndarray, shape: tuple[int, ...], population: str) -> np.ndarray:
    """Per-neuron biases of an (H, W, C) population as one bias per channel (what NIR's Conv2d and
    netx's conv layers hold); refused where they differ within a channel."""
    full = np.broadcast_to(bias, shape)
    per_channel = full.reshape(-1, shape[-1])[0]
    if not (full == per_channel).all():
        raise SnncError(f"population {population!r}: its biases differ within a channel, "
                        "which a convolution's per-channel bias cannot hold")
    return per_channel
