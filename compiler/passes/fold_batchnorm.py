"""Fold each BatchNormalization into the Conv or Dense layer that feeds it (with the BN's own epsilon).

y = scale * (W x + b) + shift  ==  (W * scale) x + (b * scale + shift), scale on output channels.
A BatchNorm whose input is not a weighted layer used only by it is refused.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir.float_graph import BatchNorm, Conv, Dense, FloatGraph, Layer
from snnc.errors import SnncError


def fold_batchnorm(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    layers = {l.name: l for l in graph.layers}
    folded: dict[str, Layer] = {}  # weighted layer name -> its folded replacement
    rename: dict[str, str] = {}
    notes = []
    for layer in graph.layers:
        if not isinstance(layer.op, BatchNorm):
            continue
        src = layers[layer.inputs[0]]
        if not isinstance(src.op, (Conv, Dense)) or len(graph.consumers(src.name)) != 1:
            raise SnncError(
                f"layer {layer.name!r} (BatchNormalization) follows {src.name!r} ({src.keras_class}); "
                "snnc folds BatchNorm only directly after a Conv2D/DepthwiseConv2D/Dense used by nothing else")
        bn = layer.op
        scale, shift = bn.scale.astype(np.float32), bn.shift.astype(np.float32)
        bias = src.op.bias if src.op.bias is not None else np.zeros_like(scale)
        kernel = src.op.kernel * scale  # output channels are the last axis of HWIO and (in, out)
        op = (Conv(kernel, bias * scale + shift, src.op.strides, src.op.pads, src.op.groups)
              if isinstance(src.op, Conv) else Dense(kernel, bias * scale + shift))
        folded[src.name] = Layer(src.name, op, src.inputs, src.keras_class)
        rename[layer.name] = src.name
        notes.append(f"{layer.name}: BatchNorm (eps={bn.eps:g}) folded into {src.name}")
    out = []
    for layer in graph.layers:
        if layer.name in rename:
            continue
        layer = folded.get(layer.name, layer)
        out.append(Layer(layer.name, layer.op, tuple(rename.get(i, i) for i in layer.inputs), layer.keras_class))
    return FloatGraph(tuple(out), graph.notes), notes
