"""The alternatives to compiling max pooling (MaxPooling1D/2D) as a ReLU network (maxpool_to_relu, the
default): replace it by average pooling (--maxpool avg), or refuse it (--maxpool refuse)."""

from __future__ import annotations

from snnc.compiler.ir.float_graph import AvgPool, FloatGraph, Layer, MaxPool, Pad
from snnc.errors import SnncError


def refuse_maxpool(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    for layer in graph.layers:
        if isinstance(layer.op, MaxPool):
            raise SnncError(
                f"layer {layer.name!r} ({layer.keras_class}) refused (--maxpool refuse); compile with --maxpool relu "
                "(exact, as a ReLU network) or --maxpool avg (replaced by average pooling)")
    return graph, []


def maxpool_to_avg(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    layers, notes = [], []
    for layer in graph.layers:
        if isinstance(layer.op, MaxPool):
            inputs = layer.inputs
            if layer.op.pads != ((0, 0), (0, 0)):  # partial windows: zeros padded in, averaged with the rest
                layers.append(Layer(f"{layer.name}/pad", Pad(layer.op.pads), inputs, layer.keras_class))
                inputs = (f"{layer.name}/pad",)
            layer = Layer(layer.name, AvgPool(layer.op.pool, layer.op.strides), inputs, layer.keras_class)
            notes.append(f"{layer.name}: {layer.keras_class} replaced by {layer.keras_class.replace('Max', 'Average')} "
                         "(--maxpool avg); "
                         "the ANN accuracy below is the modified model's")
        layers.append(layer)
    return FloatGraph(tuple(layers), graph.notes), notes
