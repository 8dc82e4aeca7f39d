"""Max pooling (MaxPooling1D/2D) has no Loihi neuron equivalent: refuse it, or (when asked) replace it by
average pooling. Library messages name the parameter (maxpool="avg"); the CLI user reads it as --maxpool avg."""

from __future__ import annotations

from snnc.compiler.ir.float_graph import AvgPool, FloatGraph, Layer, MaxPool
from snnc.errors import SnncError


def refuse_maxpool(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    for layer in graph.layers:
        if isinstance(layer.op, MaxPool):
            raise SnncError(
                f"layer {layer.name!r} ({layer.keras_class}) cannot be expressed with Loihi neurons; retrain with "
                "average pooling or compile with --maxpool avg to replace it by average pooling")
    return graph, []


def maxpool_to_avg(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    layers, notes = [], []
    for layer in graph.layers:
        if isinstance(layer.op, MaxPool):
            layer = Layer(layer.name, AvgPool(layer.op.pool, layer.op.strides), layer.inputs, layer.keras_class)
            notes.append(f"{layer.name}: {layer.keras_class} replaced by {layer.keras_class.replace('Max', 'Average')} "
                         "(--maxpool avg); "
                         "the ANN accuracy below is the modified model's")
        layers.append(layer)
    return FloatGraph(tuple(layers), graph.notes), notes
