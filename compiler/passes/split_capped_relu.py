"""Rewrite each capped ReLU (ReLU(max_value=c), relu6) as the difference of two plain ReLUs, for the
codings whose neurons do not clip at their scale (sigma-delta's graded payloads, TTFS, Loihi's
reset to zero); the others keep it whole (keep_capped_relu).

    min(max(z, 0), c) == relu(z) - relu(z - c)      for every z, when c >= 0

A layer N = Relu(max_value=c) reading z (N is '<layer>/relu' for a fused activation, with
population P = '<layer>'; else P = N) becomes
    N                  Relu(z)                      (population P)
    P/minus{c}         Affine(1, -c)(z)
    P.above{c}         Relu(P/minus{c})             (population P.above{c}: the part above the cap)
    P.above{c}/neg     Affine(-1)(P.above{c})
    P/relu{c}          Add(N, P.above{c}/neg)       what N's consumers read
so the float net (populations of plain ReLUs joined by linear projections) is the Keras model
exactly; the next layer receives the second population through negated weights. The second
population's activations never exceed the first's (relu(z - c) <= relu(z)), and are mostly zero,
so its activation scale is taken as the first's (balance_thresholds) rather than the percentile of
its rare positive values, which made its weights too large to fit (the currents of rate and TTFS
coding, sigma-delta's 16-bit bias). Population names
get no '/' (exports use them as HDF5 group names).
"""

from __future__ import annotations

import re

from snnc.compiler.ir.float_graph import Add, Affine, FloatGraph, Layer, Relu
from snnc.errors import SnncError

ABOVE = re.compile(r"^(?P<base>.+)\.above(?P<cap>[-+0-9.e]+)$")  # P.above{c}: the part of population P above its cap


def capped_base(name: str) -> str | None:
    """For a capped ReLU's second population P.above{c}, P (the ReLU it is the part above the cap of)."""
    match = ABOVE.match(name)
    return match["base"] if match else None


def cap_of(name: str) -> float:
    """For a capped ReLU's second population P.above{c}, c."""
    return float(ABOVE.match(name)["cap"])


def _split(layer: Layer) -> tuple[list[Layer], str]:
    cap = float(layer.op.max_value)
    base, tag = layer.name.removesuffix("/relu"), f"{cap:g}"
    above = f"{base}.above{tag}"
    layers = [
        Layer(layer.name, Relu(), layer.inputs, layer.keras_class),
        Layer(f"{base}/minus{tag}", Affine(1.0, -cap), layer.inputs, f"{layer.keras_class}: z - {tag}"),
        Layer(above, Relu(), (f"{base}/minus{tag}",), f"{layer.keras_class}: relu(z - {tag})"),
        Layer(f"{above}/neg", Affine(-1.0), (above,), f"{layer.keras_class}: -relu(z - {tag})"),
        Layer(f"{base}/relu{tag}", Add(), (layer.name, f"{above}/neg"), f"{layer.keras_class}: relu(z) - relu(z - {tag})"),
    ]
    return layers, layers[-1].name


def _capped(layer: Layer) -> bool:
    return isinstance(layer.op, Relu) and layer.op.max_value is not None


def keep_capped_relu(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    """For a coding whose neurons carry at most their scale lambda (a count of one spike per step at
    most, a thermometer of N): a capped ReLU stays one population whose lambda is held at or below
    its cap c, so its neurons' own saturation is the cap, min(relu(z), c) quantized like any ReLU.
    No second population, and none of its spikes: the split's difference of two clipped parts reads
    wrong where z > c + lambda, which pushed the scale search to spend its few levels above c.
    (With reset by subtraction a neuron fed earlier by a shorter residual path can send a few spikes
    more than T - d, as a plain ReLU's can above lambda.) A cap of 0 (the layer is 0 everywhere; no scale is at most 0) is still split."""
    graph, notes = _split_where(graph, lambda layer: _capped(layer) and layer.op.max_value <= 0)
    return graph, notes + [f"{layer.name}: ReLU capped at {layer.op.max_value:g} kept as one population (its scale at "
                           f"most {layer.op.max_value:g}: the neurons' saturation is the cap)"
                           for layer in graph.layers if _capped(layer)]


def split_capped_relu(graph: FloatGraph, target=None) -> tuple[FloatGraph, list[str]]:
    return _split_where(graph, _capped)


def _split_where(graph: FloatGraph, split) -> tuple[FloatGraph, list[str]]:
    rename: dict[str, str] = {}
    out, notes = [], []
    for layer in graph.layers:
        layer = Layer(layer.name, layer.op, tuple(rename.get(i, i) for i in layer.inputs), layer.keras_class)
        if split(layer):
            new, rename[layer.name] = _split(layer)
            out += new
            notes.append(f"{layer.name}: ReLU capped at {layer.op.max_value:g} lowered exactly as "
                         f"relu(z) - relu(z - {layer.op.max_value:g}) (two populations)")
        else:
            out.append(layer)
    names = [layer.name for layer in out]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise SnncError(f"layer name {clash!r} is also a name snnc gives a capped ReLU's second population; "
                        "rename that Keras layer")
    return FloatGraph(tuple(out), graph.notes), notes
