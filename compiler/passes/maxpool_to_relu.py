"""Compile max pooling (MaxPooling1D/2D) exactly, as a ReLU network: a tournament of pairwise maxima.

    max(a, b) == relu(a - b) + b          for every real a and b

so the pooled tensor may have any sign (it need not follow a ReLU): b is never a population's
activity, it is carried linearly into whatever reads the maximum. A window of k = ph * pw taps is
reduced in ceil(log2 k) levels: the values of a level are paired in order (an odd one goes up
unchanged) and each pair (a, b) becomes one population relu(a - b) of the pooled shape (H', W', C),
with max(a, b) = relu(a - b) + b. Every value is therefore one tap of the window plus a sum of such
populations, and a - b is linear in the pooled input X and those populations. The MaxPool layer N
reading X becomes, for the pairs i = 1 .. k-1 in tournament order,
    N.max{i}/diff   Conv(X)              a's tap - b's tap: depthwise, fixed kernel +1 / -1, the
                                         pool's strides and pads
    N.max{i}/neg{j} Affine(-1)           b's populations, negated
    N.max{i}/sum    Add                  a - b = diff + a's populations - b's populations
    N.max{i}        Relu                 population N.max{i} = relu(a - b)
and then
    N/tap           Conv(X)              the winner's tap (a one-hot depthwise kernel)
    N               Add(N/tap, populations of the winner)   what N's consumers read.
The window's taps are paired in row-major order with the centre one moved last, so the winner's
tap, the one term read straight from X by N's consumers, is the centre (ph // 2, pw // 2);
lower_to_populations composes the taps into the neighbouring projections as Convs (a following
padded Conv composes with the centre tap of a 3x3 stride-2 pool, not with a corner). Exact in float and for
graded (sigma-delta) neurons; rate-coded (LIF) populations approximate it like every other ReLU.
Population names get no '/' (exports use them as HDF5 group names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.float_graph import (Add, Affine, AvgPool, Concat, Conv, FloatGraph, GlobalAvgPool, Identity,
                                         Layer, MaxPool, Pad, Relu, Reshape)
from snnc.errors import SnncError


@dataclass(frozen=True)
class _Value:
    """A tournament value: the window tap `tap` of X plus the sum of the populations `pops`."""
    tap: tuple[int, int]
    pops: tuple[str, ...] = ()


def _tap_kernel(pool, channels: int, plus, minus=None) -> np.ndarray:
    """Depthwise HWIO kernel (ph, pw, 1, C): +1 at tap `plus`, -1 at tap `minus`."""
    kernel = np.zeros((*pool, 1, channels), np.float32)
    kernel[plus] += 1.0
    if minus is not None:
        kernel[minus] -= 1.0
    return kernel


def _rewrite(layer: Layer, channels: int) -> list[Layer]:
    op, name, cls = layer.op, layer.name, layer.keras_class
    src = layer.inputs[0]

    def taps(kernel):
        return Conv(kernel, None, tuple(op.strides), op.pads, channels)

    out: list[Layer] = []
    centre = (op.pool[0] // 2, op.pool[1] // 2)  # the winner's tap (the last one): see the docstring
    values = [_Value(tap) for tap in np.ndindex(*op.pool) if tap != centre] + [_Value(centre)]
    pair = 0
    while len(values) > 1:
        winners = []
        for a, b in zip(values[0::2], values[1::2]):
            pair += 1
            base = f"{name}.max{pair}"
            out.append(Layer(f"{base}/diff", taps(_tap_kernel(op.pool, channels, a.tap, b.tap)), (src,),
                             f"{cls}: tap {a.tap} - tap {b.tap}"))
            negated = []
            for j, pop in enumerate(b.pops):
                negated.append(f"{base}/neg{j}")
                out.append(Layer(negated[-1], Affine(-1.0), (pop,), f"{cls}: -{pop}"))
            terms = (f"{base}/diff", *a.pops, *negated)
            if len(terms) > 1:
                out.append(Layer(f"{base}/sum", Add(), terms, f"{cls}: a - b"))
            out.append(Layer(base, Relu(), (terms[-1] if len(terms) == 1 else f"{base}/sum",), f"{cls}: relu(a - b)"))
            winners.append(_Value(b.tap, b.pops + (base,)))
        values = winners + values[len(values) - len(values) % 2:]
    winner = values[0]
    if not winner.pops:  # a 1x1 pool: the tap alone
        return [Layer(name, taps(_tap_kernel(op.pool, channels, winner.tap)), (src,), cls)]
    out.append(Layer(f"{name}/tap", taps(_tap_kernel(op.pool, channels, winner.tap)), (src,), f"{cls}: tap {winner.tap}"))
    out.append(Layer(name, Add(), (f"{name}/tap", *winner.pops), cls))
    return out


def keep_maxpool(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    """For a coding that computes maxima itself (TTFS: the first spike wins)."""
    return maxpool_to_relu(graph, target, native=True)


def _reads_a_population(done: list[Layer], layer: Layer) -> bool:
    source = next(l for l in reversed(done) if l.name == layer.inputs[0])
    return isinstance(source.op, (Relu, MaxPool))


def _non_negative(by_name: dict[str, Layer], name: str) -> bool:
    """Whether layer `name`'s output is >= 0 for every input: a ReLU's (a capped one's too), or
    pooled, padded, joined or reshaped from such outputs only."""
    layer = by_name[name]
    if isinstance(layer.op, Relu) or _capped_relu(by_name, layer):
        return True
    keeps_sign = (MaxPool, AvgPool, GlobalAvgPool, Pad, Concat, Reshape, Identity)
    return isinstance(layer.op, keeps_sign) and all(_non_negative(by_name, i) for i in layer.inputs)


def _capped_relu(by_name: dict[str, Layer], layer: Layer) -> bool:
    """Whether layer is relu(z) - relu(z - c), c >= 0, as split_capped_relu writes min(relu(z), c)."""
    if not isinstance(layer.op, Add) or len(layer.inputs) != 2:
        return False
    low, negated = (by_name[i] for i in layer.inputs)
    if not (isinstance(low.op, Relu) and isinstance(negated.op, Affine) and (negated.op.scale, negated.op.shift) == (-1, 0)):
        return False
    high = by_name[negated.inputs[0]]
    minus = by_name[high.inputs[0]] if isinstance(high.op, Relu) else None
    return (minus is not None and isinstance(minus.op, Affine) and minus.op.scale == 1 and minus.op.shift <= 0
            and minus.inputs == low.inputs)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def maxpool_to_relu(graph: FloatGraph, target=None, native: bool = False) -> tuple[FloatGraph, list[str]]:
    """native: a coding that computes maxima (TTFS) keeps every max pooling that reads a population
    (a ReLU layer, or a max pooling kept); only the others become tournaments."""
    if not any(isinstance(layer.op, MaxPool) for layer in graph.layers):
        return graph, []
    shapes = graph.shapes()
    out, notes = [], []
    for layer in graph.layers:
        if not isinstance(layer.op, MaxPool) or native and _reads_a_population(out, layer):
            out.append(layer)
            continue
        if layer.op.pads != ((0, 0), (0, 0)) and not _non_negative(graph.by_name(), layer.inputs[0]):
            raise SnncError(f"layer {layer.name!r} ({layer.keras_class}) pads a partial window (padding='same') of "
                            "values that may be negative; snnc pools padded windows only after a ReLU")
        out += _rewrite(layer, shapes[layer.inputs[0]][-1])
        (ph, pw), (sh, sw) = layer.op.pool, layer.op.strides
        k, pooled = ph * pw, shapes[layer.name]
        neurons = (k - 1) * int(np.prod(pooled))
        levels = math.ceil(math.log2(k)) if k > 1 else 0
        notes.append(f"{layer.name}: {layer.keras_class} {ph}x{pw} stride {sh}x{sw} compiled exactly as a ReLU "
                     f"tournament of pairwise maxima, max(a, b) = relu(a - b) + b: {_count(k - 1, 'population')} "
                     f"of {'x'.join(map(str, pooled))} ({neurons} neurons), {_count(levels, 'layer')} deeper")
    names = [layer.name for layer in out]
    seen: set[str] = set()
    clash = next((n for n in names if n in seen or seen.add(n)), None)
    if clash is not None:
        raise SnncError(f"layer name {clash!r} is also a name snnc gives a max pooling's populations; "
                        "rename that Keras layer")
    return FloatGraph(tuple(out), graph.notes), notes
