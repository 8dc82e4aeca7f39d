"""Keras model (Sequential or Functional, one input, one output) -> FloatGraph."""

from __future__ import annotations

from pathlib import Path

from snnc.compiler.frontend.layers import convert_layer
from snnc.compiler.frontend.model_file import load_keras_model
from snnc.compiler.ir.float_graph import FloatGraph, Input, Layer
from snnc.errors import SnncError


def _inbound(layer) -> tuple[str, ...]:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return ()
    return tuple(t._keras_history[0].name for t in nodes[0].input_tensors)


def keras_to_graph(model) -> FloatGraph:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise SnncError(f"model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; snnc compiles one input and one output")
    input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    sequential = type(model).__name__ == "Sequential"
    keras_layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    layers: list[Layer] = [Layer("input", Input(input_shape), (), "InputLayer")]
    final_name = {}  # Keras layer name -> name of the graph layer holding its output
    previous = "input"
    for index, klayer in enumerate(keras_layers):
        if sequential:
            sources = (previous,)
        else:
            sources = tuple(final_name.get(n, "input") for n in _inbound(klayer))
        shapes = FloatGraph(tuple(layers)).shapes()
        new = convert_layer(klayer, sources, [shapes[s] for s in sources], index == len(keras_layers) - 1)
        layers.extend(new)
        final_name[klayer.name] = previous = new[-1].name
    output = final_name[model.outputs[0]._keras_history[0].name] if not sequential else previous
    if output != layers[-1].name:
        raise SnncError("the model's output is not its last layer; snnc compiles single-output chains and DAGs ending in the output")
    return FloatGraph(tuple(layers))


def load_model_graph(path: str | Path) -> FloatGraph:
    return keras_to_graph(load_keras_model(Path(path)))
