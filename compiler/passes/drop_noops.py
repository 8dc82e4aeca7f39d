"""Remove layers that are the identity at inference (Dropout, GaussianNoise, linear, final softmax)."""

from __future__ import annotations

from snnc.compiler.ir.float_graph import FloatGraph, Identity


def drop_noops(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    rename: dict[str, str] = {}
    kept = []
    notes = []
    for layer in graph.layers:
        inputs = tuple(rename.get(i, i) for i in layer.inputs)
        if isinstance(layer.op, Identity):
            rename[layer.name] = inputs[0]
            if layer.op.was == "softmax":
                notes.append(f"{layer.name}: final softmax dropped (the class is the argmax of its input)")
            continue
        kept.append(type(layer)(layer.name, layer.op, inputs, layer.keras_class))
    return FloatGraph(tuple(kept), graph.notes), notes
