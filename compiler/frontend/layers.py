"""One handler per supported Keras layer class: one call of a Keras layer -> float graph layers.

A handler returns the layers the call stands for (a fused activation='relu' becomes a separate Relu
layer named '<layer>/relu'). A layer called twice in a model is two calls, each converted on its
own (the second named '<layer>@1'), with the same weights. 1-D layers (Conv1D, pooling 1D) are
their 2-D forms over tensors of height 1: a Keras (L, C) tensor is (1, L, C) in the float graph.
Each handler refuses options it cannot honour by naming the layer and the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnc.compiler.ir.float_graph import (
    Add, Affine, AvgPool, BatchNorm, Concat, Conv, Dense, GlobalAvgPool, Identity, Input, Layer, MaxPool, Pad, Relu,
    Reshape,
)
from snnc.errors import SnncError

_NOOP_CLASSES = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                 "ActivityRegularization")
ACTIVATIONS = ("relu", "relu6", "linear", "softmax")
_ACTIVATIONS_TEXT = "relu, relu6, linear, softmax (output only)"
MERGE_CLASSES = ("Add", "Subtract", "Average", "Concatenate")  # the layers that take a list of inputs; every other takes one


@dataclass(frozen=True)
class Call:
    """One call of a Keras layer in the model."""
    layer: Any  # the Keras layer
    name: str  # its float-graph name: the layer's name, '<name>@k' for the layer's k-th further call
    inputs: tuple[str, ...]  # float-graph layers it reads
    in_shapes: tuple[tuple[int, ...], ...]  # their shapes in the float graph (a Keras (L, C) is (1, L, C))
    keras_shapes: tuple[tuple[int, ...], ...]  # the same tensors' shapes in Keras, without the batch axis
    is_last: bool  # the call produces the model's output

    @property
    def cls(self) -> str:
        return type(self.layer).__name__

    def refuse(self, what: str) -> SnncError:
        return SnncError(f"layer {self.name!r} ({self.cls}) {what}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _activation_name(name, cls: str, act) -> str | None:
    """The name of an activation as a layer config stores it: a string, or a Keras 3 object dict."""
    if act is None or isinstance(act, str):
        return act
    if isinstance(act, dict):
        module, kind, inner = act.get("module"), act.get("class_name"), act.get("config")
        found = kind
        if kind in (None, "function"):
            found = inner if isinstance(inner, str) else inner.get("name") if isinstance(inner, dict) else None
        keras_module = module is None or (isinstance(module, str) and (module in ("builtins", "keras") or module.startswith("keras.")))
        if isinstance(found, str) and keras_module:
            return found
    raise SnncError(f"layer {name!r} ({cls}) has an activation snnc cannot read ({_short(act)}); "
                    f"supported activations: {_ACTIVATIONS_TEXT}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_relu_config(name, config: dict) -> None:
    for key in ("negative_slope", "threshold"):
        value = config.get(key, 0.0)
        if value is not None and not _is_number(value):
            raise SnncError(f"layer {name!r} (ReLU) has {key}={_short(value)}; expected a number")
        if value:
            raise SnncError(f"layer {name!r} (ReLU) has {key}={value}; only {key}=0 is supported")
    cap = config.get("max_value")
    if cap is not None and not (_is_number(cap) and cap >= 0):
        raise SnncError(f"layer {name!r} (ReLU) has max_value={_short(cap)}; expected a number >= 0 or null")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(value) -> bool:
    return _is_int(value) or isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)


# Config keys whose type is checked before Keras sees them, so a wrong type is named (Keras's own
# error for it often names neither the layer nor the key).
_TYPES = {
    "kernel_size": (_ints, "an integer or a list of integers"),
    "strides": (lambda v: v is None or _ints(v), "an integer or a list of integers"),
    "pool_size": (_ints, "an integer or a list of integers"),
    "axis": (_ints, "an integer or a list of integers"),
    "target_shape": (lambda v: isinstance(v, (list, tuple)) and all(_is_int(d) for d in v), "a list of integers"),
    "units": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "filters": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "depth_multiplier": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "groups": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "use_bias": (lambda v: isinstance(v, bool), "true or false"),
    "epsilon": (lambda v: _is_number(v) and v > 0, "a positive number"),
}
_BATCHNORM_TYPES = {  # Rescaling's 'scale' is a number
    "center": (lambda v: isinstance(v, bool), "true or false"),
    "scale": (lambda v: isinstance(v, bool), "true or false"),
}
_STRING_PADDING = ("Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "AveragePooling1D",
                   "AveragePooling2D", "MaxPooling1D", "MaxPooling2D")


def check_layer_config(name, cls: str, config: dict) -> None:
    """Refuse unsupported options from the raw config, before Keras deserializes anything."""
    for key, (ok, expected) in (_TYPES | (_BATCHNORM_TYPES if cls == "BatchNormalization" else {})).items():
        if key in config and not ok(config[key]):
            raise SnncError(f"layer {name!r} ({cls}) has {key}={_short(config[key])}; expected {expected}")
    act = _activation_name(name, cls, config.get("activation"))
    if act is not None and act not in ACTIVATIONS:
        raise SnncError(f"layer {name!r} ({cls}) uses activation {act!r}; supported activations: {_ACTIVATIONS_TEXT}")
    if config.get("data_format", "channels_last") != "channels_last":
        raise SnncError(f"layer {name!r} ({cls}) uses data_format={_short(config['data_format'])}; only channels_last is supported")
    dilation = config.get("dilation_rate", 1)
    values = dilation if isinstance(dilation, (list, tuple)) else [dilation]
    if not all(_is_number(d) for d in values):
        raise SnncError(f"layer {name!r} ({cls}) has dilation_rate={_short(dilation)}; expected integers")
    if any(d != 1 for d in values):
        raise SnncError(f"layer {name!r} ({cls}) uses dilation_rate={dilation}; only 1 is supported")
    if config.get("padding") == "causal":
        raise SnncError(f"layer {name!r} ({cls}) uses padding='causal'; only 'valid' and 'same' are supported")
    if cls in _STRING_PADDING and config.get("padding", "valid") not in ("valid", "same"):
        raise SnncError(f"layer {name!r} ({cls}) has padding={_short(config['padding'])}; expected 'valid' or 'same'")
    if cls == "ReLU":
        _check_relu_config(name, config)


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the odd pixel goes to the bottom / right."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(padding: str, in_shape, kernel, strides):
    if padding == "valid":
        return ((0, 0), (0, 0))
    return (same_pads(in_shape[0], kernel[0], strides[0]), same_pads(in_shape[1], kernel[1], strides[1]))


def _padding(call: Call) -> str:
    padding = call.layer.padding
    if padding not in ("valid", "same"):
        raise call.refuse(f"uses padding={padding!r}; only 'valid' and 'same' are supported")
    return padding


def _window(call: Call, values) -> tuple[int, int]:
    """kernel, pool or stride sizes as 2-D: a 1-D layer's (k,) is (1, k)."""
    values = tuple(int(v) for v in values)
    return (1, *values) if call.cls.endswith("1D") else values


def _activation(call: Call, base: Layer) -> list[Layer]:
    name = getattr(call.layer.activation, "__name__", "linear")
    if name == "linear":
        return [base]
    if name in ("relu", "relu6"):
        return [base, Layer(f"{call.name}/relu", Relu(6.0 if name == "relu6" else None), (base.name,), f"activation={name}")]
    if name == "softmax":
        if not call.is_last:
            raise SnncError(f"layer {call.name!r} uses softmax before the output; softmax is only supported as the last layer")
        return [base, Layer(f"{call.name}/softmax", Identity("softmax"), (base.name,), "activation=softmax")]
    raise call.refuse(f"uses activation {name!r}; supported activations: {_ACTIVATIONS_TEXT}")


def convert_layer(call: Call) -> list[Layer]:
    handler = _HANDLERS.get(call.cls)
    if handler is None:
        raise call.refuse(f"is not supported; supported layers: {', '.join(sorted(SUPPORTED))}")
    if call.cls not in MERGE_CLASSES and len(call.inputs) != 1:
        raise call.refuse(f"is called on {len(call.inputs)} tensors; it takes one input")
    return handler(call)


def _input(call):
    return [Layer(call.name, Input(call.in_shapes[0]), (), "InputLayer")]


def _conv(call):
    layer = call.layer
    weights = layer.get_weights()
    kernel = weights[0].astype(np.float32)
    if call.cls == "Conv1D":  # (k, C_in / groups, C_out) -> (1, k, C_in / groups, C_out)
        kernel = kernel[None]
    kh, kw = kernel.shape[:2]
    strides = _window(call, layer.strides)
    groups = int(getattr(layer, "groups", 1))
    if call.cls == "DepthwiseConv2D":  # (kh, kw, C, mult) -> HWIO with one input per group
        c, mult = kernel.shape[2:]
        kernel = kernel.reshape(kh, kw, 1, c * mult)
        groups = c
    bias = weights[1].astype(np.float32) if layer.use_bias else None
    op = Conv(kernel, bias, strides, _pads(_padding(call), call.in_shapes[0], (kh, kw), strides), groups)
    return _activation(call, Layer(call.name, op, call.inputs, call.cls))


def _separable_conv(call):
    """A depthwise Conv (one group per input channel, depth_multiplier outputs each) then a
    pointwise 1x1 Conv with the bias and activation; nothing between them, so lowering composes
    them into the projections as one Conv."""
    layer = call.layer
    weights = layer.get_weights()
    depthwise, pointwise = (w.astype(np.float32) for w in weights[:2])
    if call.cls == "SeparableConv1D":  # (k, C, mult) -> (1, k, C, mult); (1, C mult, F) -> (1, 1, C mult, F)
        depthwise, pointwise = depthwise[None], pointwise[None]
    kh, kw, c, mult = depthwise.shape
    strides = _window(call, layer.strides)
    first = Conv(depthwise.reshape(kh, kw, 1, c * mult), None, strides,
                 _pads(_padding(call), call.in_shapes[0], (kh, kw), strides), c)
    bias = weights[2].astype(np.float32) if layer.use_bias else None
    second = Conv(pointwise, bias, (1, 1), ((0, 0), (0, 0)))
    return [Layer(f"{call.name}/depthwise", first, call.inputs, call.cls),
            *_activation(call, Layer(call.name, second, (f"{call.name}/depthwise",), call.cls))]


def _dense(call):
    """Dense; on an image or a 1-D signal Keras applies it to the last axis at every position: a 1x1 Conv."""
    weights = call.layer.get_weights()
    kernel = weights[0].astype(np.float32)
    bias = weights[1].astype(np.float32) if call.layer.use_bias else None
    op = Dense(kernel, bias) if len(call.in_shapes[0]) == 1 else Conv(kernel[None, None], bias, (1, 1), ((0, 0), (0, 0)))
    return _activation(call, Layer(call.name, op, call.inputs, "Dense"))


def _channel_axis(call: Call, axis) -> bool:
    """Whether a Keras axis (counting the batch axis) is the last, channel axis of the call's input."""
    return axis in (-1, len(call.keras_shapes[0]))


def _batchnorm(call):
    layer = call.layer
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    if not _channel_axis(call, axis) or not isinstance(layer.axis, int) and len(layer.axis) != 1:
        raise call.refuse(f"normalizes axis {layer.axis}; only the channel (last) axis is supported")
    n = call.in_shapes[0][-1]
    values = iter(layer.get_weights())
    gamma = next(values) if layer.scale else np.ones(n, np.float32)
    beta = next(values) if layer.center else np.zeros(n, np.float32)
    mean, var = next(values), next(values)
    op = BatchNorm(*(np.asarray(a, np.float32) for a in (gamma, beta, mean, var)), float(layer.epsilon))
    return [Layer(call.name, op, call.inputs, "BatchNormalization")]


def _normalization(call):
    """Keras's Normalization, (x - mean) / max(sqrt(variance), 1e-7) per channel: a BatchNorm with
    those statistics (gamma 1, beta 0, the variance floored so that eps 0 gives the same divisor)."""
    layer = call.layer
    axis = (layer.axis,) if isinstance(layer.axis, int) else tuple(layer.axis or ())
    if getattr(layer, "invert", False) or len(axis) > 1 or axis and not _channel_axis(call, axis[0]):
        raise call.refuse(f"normalizes axis {layer.axis}{' inverted' if getattr(layer, 'invert', False) else ''}; "
                          "only the channel (last) axis, or one mean for all, is supported")
    n = call.in_shapes[0][-1]
    mean, var = (np.ravel(np.asarray(v, np.float32)) for v in (layer.mean, layer.variance))
    mean, var = (np.broadcast_to(v, (n,)) if v.size == 1 else v for v in (mean, var))
    op = BatchNorm(np.ones(n, np.float32), np.zeros(n, np.float32), mean.astype(np.float32),
                   np.maximum(var, np.float32(1e-14)).astype(np.float32), 0.0)
    return [Layer(call.name, op, call.inputs, "Normalization")]


def _rescaling(call):
    scale, offset = call.layer.scale, call.layer.offset
    if not (_is_number(scale) and _is_number(offset)):
        raise call.refuse(f"has scale={_short(scale)}, offset={_short(offset)}; only one number each is supported")
    return [Layer(call.name, Affine(float(scale), float(offset)), call.inputs, "Rescaling")]


def _relu(call):
    layer = call.layer
    for key in ("negative_slope", "threshold"):
        if float(getattr(layer, key)) != 0.0:
            raise call.refuse(f"has {key}={getattr(layer, key)}; only {key}=0 is supported (max_value is)")
    cap = None if layer.max_value is None else float(layer.max_value)
    return [Layer(call.name, Relu(cap), call.inputs, "ReLU")]


def _activation_layer(call):
    name = getattr(call.layer.activation, "__name__", "?")
    if name in ("relu", "relu6"):
        return [Layer(call.name, Relu(6.0 if name == "relu6" else None), call.inputs, "Activation")]
    if name == "linear":
        return [Layer(call.name, Identity("linear"), call.inputs, "Activation")]
    if name == "softmax" and call.is_last:
        return [Layer(call.name, Identity("softmax"), call.inputs, "Activation")]
    raise call.refuse(f"uses {name!r}; supported: {_ACTIVATIONS_TEXT}")


def _pool(call):
    layer = call.layer
    pool, strides = _window(call, layer.pool_size), _window(call, layer.strides)
    pads = _pads(_padding(call), call.in_shapes[0], pool, strides)
    if call.cls.startswith("Max"):
        return [Layer(call.name, MaxPool(pool, strides, pads), call.inputs, call.cls)]
    if pads != ((0, 0), (0, 0)):  # Keras averages a partial window over its real inputs only: not one kernel
        (ph, pw), (sh, sw) = pool, strides
        raise call.refuse(f"with padding='same', its {ph}x{pw} windows at stride {sh}x{sw} overhang the "
                          f"{'x'.join(map(str, call.in_shapes[0][:-1]))} input, and Keras averages such a window over "
                          "its real inputs only (a different divisor at the border: no convolution); use "
                          "padding='valid', or MaxPooling2D")
    op = AvgPool(pool, strides)
    return [Layer(call.name, op, call.inputs, call.cls)]


def _global_pool(call):
    if getattr(call.layer, "keepdims", False):
        raise call.refuse("uses keepdims=True; not supported")
    if call.cls.startswith("GlobalMax"):  # one window over the whole map, then the channels as a vector
        h, w, c = call.in_shapes[0]
        return [Layer(call.name, MaxPool((h, w), (h, w)), call.inputs, call.cls),
                Layer(f"{call.name}/vector", Reshape((c,)), (call.name,), call.cls)]
    return [Layer(call.name, GlobalAvgPool(), call.inputs, call.cls)]


def _zero_pad(call):
    (t, b), (l, r) = call.layer.padding
    return [Layer(call.name, Pad(((int(t), int(b)), (int(l), int(r)))), call.inputs, "ZeroPadding2D")]


def _flatten(call):
    return [Layer(call.name, Reshape((int(np.prod(call.in_shapes[0])),)), call.inputs, "Flatten")]


def internal_shape(keras_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The float-graph shape of a Keras tensor shape (no batch axis): a 1-D signal (L, C) is (1, L, C)."""
    return (1, *keras_shape) if len(keras_shape) == 2 else tuple(keras_shape)


def _reshape(call):
    shape = tuple(int(s) for s in call.layer.target_shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape = tuple(int(np.prod(call.in_shapes[0])) // known if s == -1 else s for s in shape)
    return [Layer(call.name, Reshape(internal_shape(shape)), call.inputs, "Reshape")]


def _add(call):
    return [Layer(call.name, Add(), call.inputs, "Add")]


def _subtract(call):
    if len(call.inputs) != 2:
        raise call.refuse(f"is called on {len(call.inputs)} tensors; it takes two")
    return [Layer(f"{call.name}/negated", Affine(-1.0), call.inputs[1:], "Subtract"),
            Layer(call.name, Add(), (call.inputs[0], f"{call.name}/negated"), "Subtract")]


def _average(call):
    return [Layer(f"{call.name}/sum", Add(), call.inputs, "Average"),
            Layer(call.name, Affine(1.0 / len(call.inputs)), (f"{call.name}/sum",), "Average")]


def _concat(call):
    if not _channel_axis(call, call.layer.axis):
        raise call.refuse(f"joins axis {call.layer.axis}; only channels (the last axis) are supported")
    return [Layer(call.name, Concat(), call.inputs, "Concatenate")]


def _noop(call):
    return [Layer(call.name, Identity(call.cls), call.inputs, call.cls)]


_HANDLERS = {
    "InputLayer": _input,
    "Conv1D": _conv,
    "Conv2D": _conv,
    "DepthwiseConv2D": _conv,
    "SeparableConv1D": _separable_conv,
    "SeparableConv2D": _separable_conv,
    "Dense": _dense,
    "BatchNormalization": _batchnorm,
    "Normalization": _normalization,
    "Rescaling": _rescaling,
    "ReLU": _relu,
    "Activation": _activation_layer,
    "AveragePooling1D": _pool,
    "AveragePooling2D": _pool,
    "MaxPooling1D": _pool,
    "MaxPooling2D": _pool,
    "GlobalAveragePooling1D": _global_pool,
    "GlobalAveragePooling2D": _global_pool,
    "GlobalMaxPooling1D": _global_pool,
    "GlobalMaxPooling2D": _global_pool,
    "ZeroPadding2D": _zero_pad,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _add,
    "Subtract": _subtract,
    "Average": _average,
    "Concatenate": _concat,
    **{cls: _noop for cls in _NOOP_CLASSES},
}
SUPPORTED = frozenset(_HANDLERS)
