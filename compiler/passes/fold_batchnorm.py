"""Fold each BatchNormalization into the Conv or Dense layer that feeds it (with the BN's own epsilon).

y = scale * (W x + b) + shift  ==  (W * scale) x + (b * scale + shift), scale on output channels.
A BatchNorm whose input is not a weighted layer used only by it (after an Add, a pooling, the
input, or a Conv whose output is also read elsewhere, as in pre-activation ResNets) stays a linear
layer of its own, which lowering composes into the projections around it like any other: a
depthwise 1x1 Conv (kernel = scale per channel, bias = shift) on images and 1-D signals, a diagonal
Dense on vectors.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir.float_graph import BatchNorm, Conv, Dense, FloatGraph, Layer


def fold_batchnorm(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    layers = {l.name: l for l in graph.layers}
    replaced: dict[str, Layer] = {}  # layer name -> its replacement (a folded weighted layer, or a kept BatchNorm)
    rename: dict[str, str] = {}
    shapes = None
    notes = []
    for layer in graph.layers:
        if not isinstance(layer.op, BatchNorm):
            continue
        src = layers[layer.inputs[0]]
        bn = layer.op
        scale, shift = bn.scale.astype(np.float32), bn.shift.astype(np.float32)
        if isinstance(src.op, (Conv, Dense)) and len(graph.consumers(src.name)) == 1:
            bias = src.op.bias if src.op.bias is not None else np.zeros_like(scale)
            kernel = src.op.kernel * scale  # output channels are the last axis of HWIO and (in, out)
            op = (Conv(kernel, bias * scale + shift, src.op.strides, src.op.pads, src.op.groups)
                  if isinstance(src.op, Conv) else Dense(kernel, bias * scale + shift))
            replaced[src.name] = Layer(src.name, op, src.inputs, src.keras_class)
            rename[layer.name] = src.name
            notes.append(f"{layer.name}: BatchNorm (eps={bn.eps:g}) folded into {src.name}")
            continue
        shapes = graph.shapes() if shapes is None else shapes
        replaced[layer.name] = Layer(layer.name, _per_channel(scale, shift, len(shapes[src.name])), layer.inputs,
                                     layer.keras_class)
        notes.append(f"{layer.name}: BatchNorm (eps={bn.eps:g}) after {src.name} ({src.keras_class}) kept as a "
                     "per-channel scaling, composed into the projections around it")
    out = []
    for layer in graph.layers:
        if layer.name in rename:
            continue
        layer = replaced.get(layer.name, layer)
        out.append(Layer(layer.name, layer.op, tuple(rename.get(i, i) for i in layer.inputs), layer.keras_class))
    return FloatGraph(tuple(out), graph.notes), notes


def _per_channel(scale: np.ndarray, shift: np.ndarray, rank: int) -> Conv | Dense:
    """x * scale + shift over the last axis, as a layer lowering composes: a depthwise 1x1 Conv on
    (H, W, C), a diagonal Dense on (N,)."""
    if rank == 1:
        return Dense(np.diag(scale), shift)
    channels = len(scale)
    return Conv(scale.reshape(1, 1, 1, channels), shift, (1, 1), ((0, 0), (0, 0)), channels)
