"""One handler per supported Keras layer class: Keras layer object -> float graph layers.

A handler returns the layers the Keras layer stands for (a fused activation='relu' becomes a
separate Relu layer named '<layer>/relu'). Each handler refuses options it cannot honour by naming
the layer and the option.
"""

from __future__ import annotations

import math

import numpy as np

from snnc.compiler.ir.float_graph import (
    Add, AvgPool, BatchNorm, Concat, Conv, Dense, GlobalAvgPool, Identity, Input, Layer, MaxPool, Pad, Relu, Reshape,
)
from snnc.errors import SnncError

_NOOP_CLASSES = ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")


def check_layer_config(name: str, cls: str, config: dict) -> None:
    """Refuse unsupported options from the raw config, before Keras deserializes anything."""
    act = config.get("activation")
    if isinstance(act, dict):  # Keras 3 may serialize activations as objects
        act = act.get("config", {}).get("name", act.get("class_name"))
    if act is not None and act not in ("relu", "linear", "softmax"):
        raise SnncError(
            f"layer {name!r} ({cls}) uses activation {act!r}; supported activations: relu, linear, softmax (output only)")
    if config.get("data_format", "channels_last") != "channels_last":
        raise SnncError(f"layer {name!r} ({cls}) uses data_format={config['data_format']!r}; only channels_last is supported")
    dilation = config.get("dilation_rate", 1)
    if any(d != 1 for d in np.atleast_1d(dilation)):
        raise SnncError(f"layer {name!r} ({cls}) uses dilation_rate={dilation}; only 1 is supported")


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the odd pixel goes to the bottom / right."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(layer, in_shape, kernel, strides):
    if layer.padding == "valid":
        return ((0, 0), (0, 0))
    return (same_pads(in_shape[0], kernel[0], strides[0]), same_pads(in_shape[1], kernel[1], strides[1]))


def _activation(layer, base: Layer, is_last: bool) -> list[Layer]:
    name = getattr(layer.activation, "__name__", "linear")
    if name == "relu":
        return [base, Layer(f"{layer.name}/relu", Relu(), (base.name,), "activation=relu")]
    if name == "softmax":
        if not is_last:
            raise SnncError(f"layer {layer.name!r} uses softmax before the output; softmax is only supported as the last layer")
        return [base, Layer(f"{layer.name}/softmax", Identity("softmax"), (base.name,), "activation=softmax")]
    return [base]


def convert_layer(layer, inputs: tuple[str, ...], in_shapes: list[tuple[int, ...]], is_last: bool) -> list[Layer]:
    cls = type(layer).__name__
    handler = _HANDLERS.get(cls)
    if handler is None:
        raise SnncError(f"layer {layer.name!r} of class {cls} is not supported; supported layers: {', '.join(sorted(SUPPORTED))}")
    return handler(layer, inputs, in_shapes, is_last)


def _input(layer, inputs, in_shapes, is_last):
    shape = tuple(layer.batch_shape[1:]) if hasattr(layer, "batch_shape") else tuple(layer.input_shape[1:])
    return [Layer(layer.name, Input(shape), (), "InputLayer")]


def _conv(layer, inputs, in_shapes, is_last):
    weights = layer.get_weights()
    kernel = weights[0].astype(np.float32)
    kh, kw = kernel.shape[:2]
    strides = tuple(layer.strides)
    groups = getattr(layer, "groups", 1)
    if type(layer).__name__ == "DepthwiseConv2D":  # (kh, kw, C, mult) -> HWIO with one input per group
        c, mult = kernel.shape[2:]
        kernel = kernel.reshape(kh, kw, 1, c * mult)
        groups = c
    bias = weights[1].astype(np.float32) if layer.use_bias else None
    op = Conv(kernel, bias, strides, _pads(layer, in_shapes[0], (kh, kw), strides), groups)
    return _activation(layer, Layer(layer.name, op, inputs, type(layer).__name__), is_last)


def _dense(layer, inputs, in_shapes, is_last):
    if len(in_shapes[0]) != 1:
        raise SnncError(f"layer {layer.name!r} (Dense) gets a {len(in_shapes[0])}-d input {in_shapes[0]}; add a Flatten before it")
    weights = layer.get_weights()
    bias = weights[1].astype(np.float32) if layer.use_bias else None
    op = Dense(weights[0].astype(np.float32), bias)
    return _activation(layer, Layer(layer.name, op, inputs, "Dense"), is_last)


def _batchnorm(layer, inputs, in_shapes, is_last):
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    if axis not in (-1, len(in_shapes[0])):
        raise SnncError(f"layer {layer.name!r} (BatchNormalization) normalizes axis {axis}; only the channel (last) axis is supported")
    n = in_shapes[0][-1]
    values = iter(layer.get_weights())
    gamma = next(values) if layer.scale else np.ones(n, np.float32)
    beta = next(values) if layer.center else np.zeros(n, np.float32)
    mean, var = next(values), next(values)
    op = BatchNorm(*(np.asarray(a, np.float32) for a in (gamma, beta, mean, var)), float(layer.epsilon))
    return [Layer(layer.name, op, inputs, "BatchNormalization")]


def _relu(layer, inputs, in_shapes, is_last):
    if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise SnncError(f"layer {layer.name!r} (ReLU) has max_value/negative_slope/threshold; only the plain ReLU is supported")
    return [Layer(layer.name, Relu(), inputs, "ReLU")]


def _activation_layer(layer, inputs, in_shapes, is_last):
    name = getattr(layer.activation, "__name__", "?")
    if name == "relu":
        return [Layer(layer.name, Relu(), inputs, "Activation")]
    if name == "linear":
        return [Layer(layer.name, Identity("linear"), inputs, "Activation")]
    if name == "softmax" and is_last:
        return [Layer(layer.name, Identity("softmax"), inputs, "Activation")]
    raise SnncError(f"layer {layer.name!r} (Activation) uses {name!r}; supported: relu, linear, softmax (output only)")


def _pool(layer, inputs, in_shapes, is_last):
    pool, strides = tuple(layer.pool_size), tuple(layer.strides)
    cls = type(layer).__name__
    if layer.padding == "same" and any(_pads(layer, in_shapes[0], pool, strides)[i] != (0, 0) for i in (0, 1)):
        raise SnncError(f"layer {layer.name!r} ({cls}) needs padding='same' with a partial window; use padding='valid'")
    op = AvgPool(pool, strides) if cls == "AveragePooling2D" else MaxPool(pool, strides)
    return [Layer(layer.name, op, inputs, cls)]


def _global_pool(layer, inputs, in_shapes, is_last):
    if getattr(layer, "keepdims", False):
        raise SnncError(f"layer {layer.name!r} (GlobalAveragePooling2D) uses keepdims=True; not supported")
    return [Layer(layer.name, GlobalAvgPool(), inputs, "GlobalAveragePooling2D")]


def _zero_pad(layer, inputs, in_shapes, is_last):
    (t, b), (l, r) = layer.padding
    return [Layer(layer.name, Pad(((int(t), int(b)), (int(l), int(r)))), inputs, "ZeroPadding2D")]


def _flatten(layer, inputs, in_shapes, is_last):
    return [Layer(layer.name, Reshape((int(np.prod(in_shapes[0])),)), inputs, "Flatten")]


def _reshape(layer, inputs, in_shapes, is_last):
    shape = tuple(int(s) for s in layer.target_shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(int(np.prod(in_shapes[0])) // known if s == -1 else s for s in shape)
    return [Layer(layer.name, Reshape(shape), inputs, "Reshape")]


def _add(layer, inputs, in_shapes, is_last):
    return [Layer(layer.name, Add(), inputs, "Add")]


def _concat(layer, inputs, in_shapes, is_last):
    if layer.axis not in (-1, len(in_shapes[0])):
        raise SnncError(f"layer {layer.name!r} (Concatenate) joins axis {layer.axis}; only channels (the last axis) are supported")
    return [Layer(layer.name, Concat(), inputs, "Concatenate")]


def _noop(layer, inputs, in_shapes, is_last):
    return [Layer(layer.name, Identity(type(layer).__name__), inputs, type(layer).__name__)]


_HANDLERS = {
    "InputLayer": _input,
    "Conv2D": _conv,
    "DepthwiseConv2D": _conv,
    "Dense": _dense,
    "BatchNormalization": _batchnorm,
    "ReLU": _relu,
    "Activation": _activation_layer,
    "AveragePooling2D": _pool,
    "MaxPooling2D": _pool,
    "GlobalAveragePooling2D": _global_pool,
    "ZeroPadding2D": _zero_pad,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _add,
    "Concatenate": _concat,
    **{cls: _noop for cls in _NOOP_CLASSES},
}
SUPPORTED = frozenset(_HANDLERS)
