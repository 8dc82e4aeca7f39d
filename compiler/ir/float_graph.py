"""The float graph: a trained model as a DAG of typed layers, before any spiking decisions.

Tensors are channels-last without the batch axis: images (H, W, C), vectors (N,), and 1-D signals
(Keras (L, C)) as images of height 1, (1, L, C), so 1-D layers are their 2-D forms. Every op is a
frozen dataclass with `apply(*inputs)`, a jax.numpy function over a leading batch axis, so one
definition serves the float forward pass, numeric composition of linear maps and shape inference.
`apply(..., with_bias=False)` gives the linear part of an affine op.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
HIGHEST = lax.Precision.HIGHEST


def conv2d(x, kernel, strides, pads: Pads, groups: int):
    """Cross-correlation as in Keras: x (B,H,W,C), kernel HWIO with I = C / groups."""
    return lax.conv_general_dilated(
        x, kernel, window_strides=tuple(strides), padding=tuple(tuple(p) for p in pads),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups, precision=HIGHEST)


@dataclass(frozen=True, eq=False)
class Input:
    """The model input; x of any shape with as many values per sample is read as `shape`
    (a Keras 1-D input (L, C) has shape (1, L, C) here)."""
    shape: tuple[int, ...]

    def apply(self, x):
        return jnp.reshape(x, (x.shape[0], *self.shape))


@dataclass(frozen=True, eq=False)
class Conv:
    """y = conv(x, kernel) + bias, kernel HWIO (kh, kw, C_in / groups, C_out)."""
    kernel: np.ndarray
    bias: np.ndarray | None
    strides: tuple[int, int]
    pads: Pads
    groups: int = 1

    def apply(self, x, with_bias=True):
        y = conv2d(x, jnp.asarray(self.kernel), self.strides, self.pads, self.groups)
        return y + self.bias if with_bias and self.bias is not None else y


@dataclass(frozen=True, eq=False)
class Dense:
    """y = x @ kernel + bias, kernel (N_in, N_out)."""
    kernel: np.ndarray
    bias: np.ndarray | None

    def apply(self, x, with_bias=True):
        y = jnp.matmul(x, jnp.asarray(self.kernel), precision=HIGHEST)
        return y + self.bias if with_bias and self.bias is not None else y


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """y = gamma (x - mean) / sqrt(var + eps) + beta over the last axis."""
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float

    @property
    def scale(self) -> np.ndarray:
        return self.gamma / np.sqrt(self.var + self.eps)

    @property
    def shift(self) -> np.ndarray:
        return self.beta - self.mean * self.scale

    def apply(self, x, with_bias=True):
        return x * self.scale + self.shift if with_bias else x * self.scale


@dataclass(frozen=True, eq=False)
class Relu:
    """y = max(x, 0), or min(max(x, 0), max_value) for a capped ReLU (ReLU(max_value=c), relu6).
    A coding whose neurons clip at their scale keeps it one population (its scale held at or below c);
    for the others it is rewritten to relu(x) - relu(x - c) before lowering (passes/split_capped_relu)."""
    max_value: float | None = None

    def apply(self, x):
        y = jnp.maximum(x, 0)
        return y if self.max_value is None else jnp.minimum(y, self.max_value)


@dataclass(frozen=True, eq=False)
class Affine:
    """y = scale * x + shift, with scalar scale and shift (elementwise)."""
    scale: float
    shift: float = 0.0

    def apply(self, x, with_bias=True):
        y = x * self.scale
        return y + self.shift if with_bias and self.shift != 0 else y


@dataclass(frozen=True, eq=False)
class AvgPool:
    """Mean over pool windows, no padding (windows that would need padding are refused)."""
    pool: tuple[int, int]
    strides: tuple[int, int]

    def apply(self, x):
        window = (1, *self.pool, 1)
        total = lax.reduce_window(x, 0.0, lax.add, window, (1, *self.strides, 1), "VALID")
        return total / (self.pool[0] * self.pool[1])


@dataclass(frozen=True, eq=False)
class MaxPool:
    """Maximum over pool windows; pads (Keras padding='same' with a partial window) take no part
    in the maximum, as in Keras. Compiled as a ReLU network of pairwise maxima (passes/maxpool_to_relu)
    or replaced by AvgPool (--maxpool avg)."""
    pool: tuple[int, int]
    strides: tuple[int, int]
    pads: Pads = ((0, 0), (0, 0))

    def apply(self, x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, *self.pool, 1), (1, *self.strides, 1),
                                 ((0, 0), *self.pads, (0, 0)))


@dataclass(frozen=True, eq=False)
class GlobalAvgPool:
    def apply(self, x):
        return jnp.mean(x, axis=(1, 2))


@dataclass(frozen=True, eq=False)
class Pad:
    pads: Pads

    def apply(self, x):
        return jnp.pad(x, ((0, 0), *self.pads, (0, 0)))


@dataclass(frozen=True, eq=False)
class Reshape:
    """Flatten is Reshape to (N,); C-order over (H, W, C), as Keras does channels-last."""
    shape: tuple[int, ...]

    def apply(self, x):
        return jnp.reshape(x, (x.shape[0], *self.shape))


@dataclass(frozen=True, eq=False)
class Add:
    def apply(self, *xs):
        return sum(xs[1:], xs[0])


@dataclass(frozen=True, eq=False)
class Concat:
    """Concatenation along the channel (last) axis."""
    def apply(self, *xs):
        return jnp.concatenate(xs, axis=-1)


@dataclass(frozen=True, eq=False)
class Identity:
    """A layer that is the identity at inference (Dropout, GaussianNoise, softmax before argmax...)."""
    was: str

    def apply(self, x):
        return x


Op = Input | Conv | Dense | BatchNorm | Relu | Affine | AvgPool | MaxPool | GlobalAvgPool | Pad | Reshape | Add | Concat | Identity


@dataclass(frozen=True, eq=False)
class Layer:
    name: str
    op: Op
    inputs: tuple[str, ...]
    keras_class: str = ""


@dataclass(frozen=True, eq=False)
class FloatGraph:
    """Layers in topological order; one input layer (the first) and one output (the last)."""
    layers: tuple[Layer, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def input(self) -> Layer:
        return self.layers[0]

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def by_name(self) -> dict[str, Layer]:
        return {layer.name: layer for layer in self.layers}

    def consumers(self, name: str) -> list[Layer]:
        return [layer for layer in self.layers if name in layer.inputs]

    def forward(self, x) -> dict[str, jnp.ndarray]:
        """Every layer's output for a batch x (B, *input shape)."""
        values: dict[str, jnp.ndarray] = {}
        for layer in self.layers:
            args = [values[i] for i in layer.inputs] or [jnp.asarray(x, jnp.float32)]
            values[layer.name] = layer.op.apply(*args)
        return values

    def shapes(self) -> dict[str, tuple[int, ...]]:
        spec = jax.ShapeDtypeStruct((1, *self.input.op.shape), jnp.float32)
        out = jax.eval_shape(self.forward, spec)
        return {name: tuple(v.shape[1:]) for name, v in out.items()}

    def replace_layers(self, layers, note: str | None = None) -> "FloatGraph":
        return FloatGraph(tuple(layers), self.notes + ((note,) if note else ()))
