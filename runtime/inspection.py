"""Views of a compiled network for people: one row per population, and the whole inspection."""

from __future__ import annotations

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.resources import fan_in
from snnc.compiler.passes.place import place
from snnc.runtime.artifact import Artifact
from snnc.runtime.results import Inspection, LayerRow, Resources


def _synapses(net: SpikingNet, q) -> str:
    bits = "8b" if q.weight.min() >= 0 or q.weight.max() <= 0 else "7b+sign"
    what = f"conv {'x'.join(map(str, q.weight.shape[:3]))}" if q.kind == "conv" else \
        f"dense {fan_in(q)}"
    return f"{q.src}: {what} {bits}"


def layer_rows(net: SpikingNet) -> tuple[LayerRow, ...]:
    rows = []
    for pop in net.populations:
        incoming = net.incoming(pop.name)
        rows.append(LayerRow(population=pop.name, layer=pop.layer, role=pop.role, shape=pop.shape, neurons=pop.size,
                             synapses="; ".join(_synapses(net, q) for q in incoming) or pop.input_role,
                             weight_exp=max((q.weight_exp for q in incoming), default=0), vth=int(pop.vth),
                             exponent=pop.exponent))
    return tuple(rows)


def _projection(q) -> dict:
    geometry = dict(strides=list(q.conv.strides), pads=[list(p) for p in q.conv.pads], groups=q.conv.groups) if q.conv else {}
    return dict(src=q.src, dst=q.dst, kind=q.kind, weight_shape=list(q.weight.shape), weight_exp=q.weight_exp,
                weight_min=int(q.weight.min()), weight_max=int(q.weight.max()), **geometry)


def inspection(art: Artifact) -> Inspection:
    net, target = art.spiking, art.target
    placement = art.manifest.placement or place(net, target)[0]  # artifacts from before placement was recorded
    resources = Resources(cores=placement.cores, chips=placement.chips,
                          populations=tuple(dict(population=p.population, layer=p.layer, neurons=p.neurons,
                                                 synapses=p.synapses, cores=p.cores) for p in placement.populations))
    return Inspection(manifest=art.manifest, summaries={p.kind: p.summary for p in net.populations}, resources=resources,
                      target=target, placement=placement,
                      layers=layer_rows(net), projections=tuple(_projection(q) for q in net.projections),
                      encoding=dict(gain=net.encoding.gain, max_mant=net.encoding.max_mant))
