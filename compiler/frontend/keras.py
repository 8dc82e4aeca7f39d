"""Keras model (Sequential or Functional, one input, one output) -> FloatGraph.

The model's node graph is walked from its output back to its input: every call of a layer (a
Keras node) becomes its own float-graph layer, so a layer applied twice (shared weights) is two
layers, the first named after the Keras layer, the k-th further call '<layer>@k'. What the walk
does not understand (a nested model, a keras.ops call, a tensor that comes from outside the model,
a layer called on several tensors where it takes one) is refused by naming the layer.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jax
import jax.numpy as jnp

from snnc.compiler.frontend.layers import Call, convert_layer, internal_shape
from snnc.compiler.frontend.model_file import load_keras_model
from snnc.compiler.ir.float_graph import FloatGraph, Input, Layer
from snnc.errors import SnncError

_FALLIBLE = (TypeError, ValueError, AttributeError, KeyError, IndexError, StopIteration)  # odd configs Keras accepted


def _keras_shape(tensor, what: str) -> tuple[int, ...]:
    dims = tuple(tensor.shape[1:])
    if any(d is None for d in dims):
        raise SnncError(f"{what} has shape {dims} with unknown sizes; snnc compiles fixed shapes")
    return tuple(int(d) for d in dims)


def _producer(tensor):
    """The Keras node that computed `tensor`, or None for a tensor without history."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
        return None
    return history.operation._inbound_nodes[history.node_index]


def _refuse_call(node, why: str) -> SnncError:
    op = node.operation
    return SnncError(f"layer {op.name!r} ({type(op).__name__}) {why}")


def _check_node(node, keras) -> None:
    op = node.operation
    if isinstance(op, keras.Model):
        raise _refuse_call(node, "is a nested model; flatten it into one model first")
    if not isinstance(op, keras.layers.Layer):
        raise _refuse_call(node, f"is a {type(op).__module__} operation, not a Keras layer; snnc compiles layers only")
    if any(isinstance(v, keras.KerasTensor) for v in _flatten(node.arguments.kwargs)):
        raise _refuse_call(node, "is called with tensors as keyword arguments; not supported")
    if len(node.outputs) != 1:
        raise _refuse_call(node, f"has {len(node.outputs)} outputs; snnc compiles layers with one output")


def _output_shape(layer: Layer, shapes: dict) -> tuple[int, ...]:
    specs = [jax.ShapeDtypeStruct((1, *shapes[i]), jnp.float32) for i in layer.inputs]
    return tuple(jax.eval_shape(layer.op.apply, *specs).shape[1:])


def _flatten(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]


def _calls_in_order(model, keras) -> list:
    """The model's layer calls (Keras nodes) in topological order, ending with the output's; the
    input's node is not among them."""
    source = _producer(model.inputs[0])
    output = _producer(model.outputs[0])
    if output is None or output is source:
        raise SnncError("the model has no layers between its input and its output")
    members = {id(op) for op in (getattr(model, "operations", None) or model.layers)}
    done, order = {id(source)}, []
    stack = [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        if id(node) in done:
            continue
        _check_node(node, keras)
        stack.append((node, True))
        for tensor in reversed(node.input_tensors):
            parent = _producer(tensor)
            if parent is None or parent is not source and (
                    id(parent.operation) not in members or type(parent.operation).__name__ == "InputLayer"):
                raise _refuse_call(node, "reads a tensor from outside the model (not computed from its input)")
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def _call_names(order) -> dict[int, str]:
    """Graph name of each call: the layer's name, '<name>@k' for its k-th further call in the model."""
    names, seen = {}, {}
    for node in sorted(order, key=lambda n: n.operation._inbound_nodes.index(n)):
        k = seen.get(id(node.operation), 0)
        seen[id(node.operation)] = k + 1
        names[id(node)] = node.operation.name if k == 0 else f"{node.operation.name}@{k}"
    return names


def keras_to_graph(model) -> FloatGraph:
    import keras

    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError):
        raise SnncError("the model has no defined input (a Sequential model without an input shape?); "
                        "build it with keras.Input before saving") from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise SnncError(f"model has {len(inputs)} inputs and {len(outputs)} outputs; snnc compiles one input and one output")
    input_shape = internal_shape(_keras_shape(inputs[0], "the model input"))
    layers: list[Layer] = [Layer("input", Input(input_shape), (), "InputLayer")]
    order = _calls_in_order(model, keras)
    names = _call_names(order)
    result = {id(_producer(inputs[0])): "input"}  # Keras node -> the graph layer holding its output
    shapes = {"input": input_shape}
    for node in order:
        sources = tuple(result[id(_producer(t))] for t in node.input_tensors)
        name = names[id(node)]
        keras_shapes = tuple(_keras_shape(t, f"the input of layer {name!r}") for t in node.input_tensors)
        call = Call(node.operation, name, sources, tuple(shapes[s] for s in sources), keras_shapes, node is order[-1])
        try:
            new = convert_layer(call)
            for layer in new:
                shapes[layer.name] = _output_shape(layer, shapes)
        except _FALLIBLE as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise call.refuse(f"has a configuration snnc cannot read ({first})") from None
        layers.extend(new)
        result[id(node)] = new[-1].name
    counts = Counter(layer.name for layer in layers)
    duplicate = next((n for n, c in counts.items() if c > 1), None)
    if duplicate is not None:
        raise SnncError(f"layer name {duplicate!r} occurs twice in the float graph; rename the Keras layer")
    return FloatGraph(tuple(layers))


def load_model_graph(path: str | Path) -> FloatGraph:
    return keras_to_graph(load_keras_model(Path(path)))
