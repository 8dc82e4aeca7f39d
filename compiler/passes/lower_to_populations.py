"""Lower the float graph to populations and projections (a FloatNet), exactly.

A population is created for the input, for every ReLU output (a capped ReLU's with its cap, where
the coding keeps it whole) and for the model output. Everything
between populations is linear, so each path from a source population to a destination is one
projection:
  - a path ending in a Conv (after any ZeroPadding, average pooling, channel concatenation or
    other Conv) is composed into a single Conv: padding adds to the pads; pooling by p repeats the
    kernel p times per axis, divides it by p*p and multiplies stride and pads by p; concatenation
    slices the kernel's input channels; an earlier Conv (e.g. a max pooling's window tap, see
    maxpool_to_relu) dilates the kernel by its stride and convolves it with its own, when the later
    Conv's padding reads no real input;
  - a path that is only an average pooling or the identity becomes a depthwise Conv;
  - scalar scalings (Affine, from a capped ReLU split by split_capped_relu) commute with every linear
    op, so they are taken out of the path and multiply the composed kernel;
  - any other path (Dense after Flatten/pooling/concatenation, consecutive Dense layers...) becomes
    one Dense projection whose matrix is the path's Jacobian.
An average pooling that starts a path from a ReLU population is folded into the next layer unless
the composed projection's fan-in exceeds the target's (a 2x2 pooling makes a 3x3 kernel 6x6: 4x
the synapses); then the pooling gets its own population, named after its layer (exact: the pooling
of non-negative values is its own ReLU), and the next layer keeps its kernel.
Biases are the network evaluated with every population at zero. Paths that meet in an Add become
several projections into one population. Every composed projection is checked numerically
against its path before it is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from snnc.compiler.ir.float_graph import (
    Add, Affine, AvgPool, Concat, Conv, Dense, FloatGraph, Input, Layer, MaxPool, Pad, Relu,
)
from snnc.compiler.ir.spiking import ConvGeometry, FloatNet, FloatPopulation, Projection
from snnc.compiler.resources import fan_in
from snnc.errors import SnncError

MAX_DENSE_ENTRIES = 1 << 25  # refuse to build a dense matrix larger than this (128 MiB of float32)


@dataclass(frozen=True, eq=False)
class Embed:
    """Place a tensor's channels at [offset, offset + C) of `total` channels (a Concatenate input)."""
    offset: int
    total: int

    def apply(self, x):
        return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(self.offset, self.total - self.offset - x.shape[-1])])


@dataclass(frozen=True, eq=False)
class Path:
    src: str  # population name
    ops: tuple  # linear ops applied in order


def _linear(op, x):
    return op.apply(x, with_bias=False) if isinstance(op, (Conv, Dense, Affine)) else op.apply(x)


def _chain_shapes(ops, src_shape):
    shapes = [tuple(src_shape)]
    for op in ops:
        spec = jax.ShapeDtypeStruct((1, *shapes[-1]), jnp.float32)
        shapes.append(tuple(jax.eval_shape(lambda v, op=op: _linear(op, v), spec).shape[1:]))
    return shapes


def _run_chain(ops, x):
    for op in ops:
        x = _linear(op, x)
    return x


def _without_scales(ops, shapes) -> tuple[tuple, list, float]:
    """The path without its scalar Affine ops (their shape is their input's), and their product."""
    factor, kept_ops, kept_shapes = 1.0, [], [shapes[0]]
    for op, out_shape in zip(ops, shapes[1:]):
        if isinstance(op, Affine):
            factor *= op.scale
        else:
            kept_ops.append(op)
            kept_shapes.append(out_shape)
    return tuple(kept_ops), kept_shapes, factor


def _as_conv(ops, shapes) -> tuple[np.ndarray, ConvGeometry] | None:
    """The path as one Conv (kernel HWIO, geometry), or None when it has no such form."""
    ops, shapes, factor = _without_scales(ops, shapes)
    conv = _conv_form(ops, shapes)
    return None if conv is None else ((conv[0] * np.float32(factor)).astype(np.float32), conv[1])


def _conv_form(ops, shapes) -> tuple[np.ndarray, ConvGeometry] | None:
    """_as_conv for a path without scalings."""
    if not ops:
        if len(shapes[0]) != 3:
            return None
        channels = shapes[0][2]
        return np.ones((1, 1, 1, channels), np.float32), ConvGeometry((1, 1), ((0, 0), (0, 0)), channels)
    if len(ops) == 1 and isinstance(ops[0], AvgPool):
        (p0, p1), channels = ops[0].pool, shapes[0][2]
        kernel = np.full((p0, p1, 1, channels), 1.0 / (p0 * p1), np.float32)
        return kernel, ConvGeometry(ops[0].strides, ((0, 0), (0, 0)), channels)
    if not isinstance(ops[-1], Conv):
        return None
    conv = ops[-1]
    kernel, strides, groups = conv.kernel, list(conv.strides), conv.groups
    pads = [list(conv.pads[0]), list(conv.pads[1])]
    for index in range(len(ops) - 2, -1, -1):
        op, in_shape = ops[index], shapes[index]
        if isinstance(op, Conv):
            composed = _compose_conv(op, (kernel, strides, pads, groups), in_shape, shapes[index + 1], shapes[-1])
            if composed is None:
                return None
            kernel, strides, pads, groups = composed
        elif isinstance(op, Pad):
            pads = [[pads[a][0] + op.pads[a][0], pads[a][1] + op.pads[a][1]] for a in (0, 1)]
        elif isinstance(op, AvgPool) and tuple(op.strides) == tuple(op.pool) and all(
                in_shape[a] % op.pool[a] == 0 for a in (0, 1)):
            p0, p1 = op.pool
            kernel = np.repeat(np.repeat(kernel, p0, axis=0), p1, axis=1) / (p0 * p1)
            strides = [strides[0] * p0, strides[1] * p1]
            pads = [[pads[0][0] * p0, pads[0][1] * p0], [pads[1][0] * p1, pads[1][1] * p1]]
        elif isinstance(op, Embed):  # a grouped kernel (a BatchNorm's depthwise 1x1) is written ungrouped first
            if groups != 1:
                kernel, groups = _full_kernel(kernel, groups, op.total).astype(np.float32), 1
            kernel = kernel[:, :, op.offset:op.offset + in_shape[-1], :]
        else:
            return None
    geometry = ConvGeometry(tuple(strides), ((pads[0][0], pads[0][1]), (pads[1][0], pads[1][1])), groups)
    return np.asarray(kernel, np.float32), geometry


def _full_kernel(kernel: np.ndarray, groups: int, c_in: int) -> np.ndarray:
    """A grouped HWIO kernel as an ungrouped one (kh, kw, c_in, C_out)."""
    kh, kw, per_group, c_out = kernel.shape
    full = np.zeros((kh, kw, c_in, c_out), np.float64)
    o = np.arange(c_out)
    for c in range(per_group):
        full[:, :, (o // (c_out // groups)) * per_group + c, o] = kernel[:, :, c, :]
    return full


def _compose_conv(inner: Conv, outer: tuple, in_shape, mid_shape, out_shape) -> tuple | None:
    """`outer` (kernel, strides, pads, groups), applied to the output of the Conv `inner`, as one
    conv of inner's input: strides multiply, the kernel is the outer kernel dilated by inner's stride
    and convolved with inner's, pads = inner's + outer's times inner's stride. Exact unless outer's
    padding would read real input where it read zeros of the middle tensor: None then."""
    kernel2, strides2, pads2, groups2 = outer
    c_in, c_out = in_shape[-1], out_shape[-1]
    a = _full_kernel(np.asarray(inner.kernel), inner.groups, c_in)
    b = _full_kernel(np.asarray(kernel2), groups2, mid_shape[-1])
    s1 = inner.strides
    size = [(b.shape[ax] - 1) * s1[ax] + a.shape[ax] for ax in (0, 1)]
    full = np.zeros((*size, c_in, c_out), np.float64)
    for i, j in np.ndindex(*b.shape[:2]):
        full[i * s1[0]:i * s1[0] + a.shape[0], j * s1[1]:j * s1[1] + a.shape[1]] += np.tensordot(a, b[i, j], 1)
    pads, strides = [], []
    for ax in (0, 1):
        rows = np.flatnonzero(np.abs(a).sum(axis=tuple(d for d in range(4) if d != ax)))
        lo, hi = (int(rows[0]), int(rows[-1])) if rows.size else (0, 0)
        (top1, _), (top2, _) = inner.pads[ax], pads2[ax]
        H, Z, O, stride = in_shape[ax], mid_shape[ax], out_shape[ax], s1[ax] * strides2[ax]
        if top2 > 0 and hi - top1 >= s1[ax]:  # the middle tensor's top padding would read row 0 onwards
            return None
        if (O - 1) * strides2[ax] + b.shape[ax] - 1 - top2 >= Z and Z * s1[ax] + lo - top1 < H:
            return None  # ... or its bottom padding rows the inner conv never covered
        top = top1 + top2 * s1[ax]
        bottom = max(0, (O - 1) * stride + size[ax] - top - H)
        if (H + top + bottom - size[ax]) // stride + 1 != O:
            return None
        pads.append([top, bottom])
        strides.append(stride)
    g1, g2 = inner.groups, groups2
    groups = min(g1, g2) if g1 % g2 == 0 or g2 % g1 == 0 else 1
    o = np.arange(c_out)
    per_group = c_in // groups
    kernel = np.stack([full[:, :, (o // (c_out // groups)) * per_group + c, o] for c in range(per_group)], axis=2)
    return kernel.astype(np.float32), strides, pads, groups


def _as_dense(ops, shapes, where: str) -> np.ndarray:
    n_src, n_dst = int(np.prod(shapes[0])), int(np.prod(shapes[-1]))
    if n_src * n_dst > MAX_DENSE_ENTRIES:
        raise SnncError(f"{where}: the layers between populations have no Conv form and a dense matrix of "
                        f"{n_dst}x{n_src} is too large; insert a ReLU or restructure the model")
    flat = lambda v: _run_chain(ops, v.reshape(1, *shapes[0])).reshape(-1)  # noqa: E731
    return np.asarray(jax.jacrev(flat)(jnp.zeros(n_src, jnp.float32)), np.float32)


def _project(path: Path, dst: str, src_shape, where: str) -> Projection:
    shapes = _chain_shapes(path.ops, src_shape)
    conv = _as_conv(path.ops, shapes)
    proj = (Projection(path.src, dst, conv[0], conv[1]) if conv is not None
            else Projection(path.src, dst, _as_dense(path.ops, shapes, where)))
    probe = np.random.default_rng(0).random((2, *src_shape), np.float32)
    expected = np.asarray(_run_chain(path.ops, probe))
    got = np.asarray(proj.apply(probe, tuple(src_shape), shapes[-1]))
    if not np.allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(expected).max()))):
        raise AssertionError(f"internal error: composed projection {path.src} -> {dst} differs from its layers")
    return proj


def _pool_breaks_fan_in(path: Path, projection: Projection, target) -> bool:
    """Whether a path that starts with an average pooling of its source composes into
    a projection whose fan-in exceeds the target's; pooling in its own population then keeps the
    next layer's kernel at its size (a 2x2 pooling folded into a 3x3 conv is a 6x6 kernel: 4x the
    synapses and the work)."""
    return (target is not None and len(path.ops) > 1 and isinstance(path.ops[0], AvgPool)
            and fan_in(projection) > target.max_fan_in)


def _zero_population_biases(graph: FloatGraph, materialized: set[str]) -> dict[str, np.ndarray]:
    """Each layer's output when every population is zero: the bias each population receives."""
    shapes = graph.shapes()
    values = {}
    for layer in graph.layers:
        if layer.name in materialized or isinstance(layer.op, Input):
            values[layer.name] = jnp.zeros((1, *shapes[layer.name]), jnp.float32)
        else:
            values[layer.name] = layer.op.apply(*(values[i] for i in layer.inputs))
    return {name: np.asarray(v[0], np.float32) for name, v in values.items()}


def _population_name(layer: Layer) -> str:
    return layer.name.removesuffix("/relu")


def lower_to_populations(graph: FloatGraph, target=None) -> tuple[FloatNet, list[str]]:
    shapes = graph.shapes()
    output = graph.output
    relus = {l.name for l in graph.layers if isinstance(l.op, Relu)}
    biases = _zero_population_biases(graph, relus)
    pops: list[FloatPopulation] = []
    projections: list[Projection] = []
    paths: dict[str, list[Path]] = {}
    pop_shape = {}
    pool_layer: dict[int, str] = {}  # id(op) -> the layer it came from

    def add_population(name: str, shape, role: str, bias, layer_name: str, cap: float | None = None) -> None:
        pops.append(FloatPopulation(name, shape, role, bias, layer_name, cap))
        pop_shape[name] = shape

    def hidden(name: str) -> bool:  # a ReLU population: its pooling is non-negative, so a ReLU of it is exact
        return any(p.name == name and p.role == "hidden" for p in pops)

    def pooled(path: Path, where: str) -> Path:
        """The path from a pooling population of its source (made once per source and pooling)."""
        pool = path.ops[0]
        name = layer_name = pool_layer[id(pool)]
        if name not in pop_shape:
            projections.append(_project(Path(path.src, (pool,)), name, pop_shape[path.src], where))
            shape = shapes[layer_name]
            add_population(name, shape, "hidden", np.zeros(shape, np.float32), layer_name)
        return Path(name, path.ops[1:])

    def materialize(layer: Layer, pre_activation: str, role: str, cap: float | None = None) -> None:
        name = _population_name(layer) if role != "output" else "output"
        where = f"layer {layer.name!r}"
        for path in paths[pre_activation]:
            projection = _project(path, name, pop_shape[path.src], where)
            if hidden(path.src) and _pool_breaks_fan_in(path, projection, target):
                path = pooled(path, where)
                projection = _project(path, name, pop_shape[path.src], where)
            projections.append(projection)
        add_population(name, shapes[layer.name], role, biases[pre_activation], layer.name, cap)
        paths[layer.name] = [Path(name, ())]

    for layer in graph.layers:
        op = layer.op
        if isinstance(op, Input):
            pops.append(FloatPopulation("input", op.shape, "input", np.zeros(op.shape, np.float32), layer.name))
            pop_shape["input"] = op.shape
            paths[layer.name] = [Path("input", ())]
        elif isinstance(op, Relu):
            materialize(layer, layer.inputs[0], "hidden", op.max_value)
        elif isinstance(op, MaxPool):  # kept only for a coding that computes maxima (pipeline.keep_maxpool)
            source = paths[layer.inputs[0]]
            if len(source) != 1 or source[0].ops:
                raise SnncError(f"layer {layer.name!r}: max pooling must read a ReLU layer directly to be computed by "
                                "the coding; use --maxpool avg")
            channels = shapes[layer.name][-1]
            window = np.ones((*op.pool, 1, channels), np.float32)
            projections.append(Projection(source[0].src, layer.name, window,
                                          ConvGeometry(tuple(op.strides), op.pads, channels)))
            add_population(layer.name, shapes[layer.name], "max", np.zeros(shapes[layer.name], np.float32), layer.name)
            paths[layer.name] = [Path(layer.name, ())]
        elif isinstance(op, Add):
            paths[layer.name] = [p for i in layer.inputs for p in paths[i]]
        elif isinstance(op, Concat):
            total, offset, joined = shapes[layer.name][-1], 0, []
            for i in layer.inputs:
                joined += [Path(p.src, p.ops + (Embed(offset, total),)) for p in paths[i]]
                offset += shapes[i][-1]
            paths[layer.name] = joined
        else:
            pool_layer[id(op)] = layer.name
            paths[layer.name] = [Path(p.src, p.ops + (op,)) for p in paths[layer.inputs[0]]]
    # The output population reads the last layer linearly (an identity path if it ends in a ReLU).
    materialize(output, output.name, "output")
    notes = [f"{len(pops)} populations, {len(projections)} projections "
             f"({sum(q.conv is not None for q in projections)} conv, {sum(q.conv is None for q in projections)} dense)"]
    return FloatNet(tuple(pops), tuple(projections), graph.notes), notes
