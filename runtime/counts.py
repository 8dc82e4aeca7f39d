"""Spike, synapse and energy counts of the integer network (what SpKeras' SpikeCounter and
NeuronNumbers and SNN Toolbox's operation counts report), per layer and per sample."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.resources import ann_macs, synapses_out
from snnc.targets import Target


class LayerCounts(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    population: str
    layer: str
    neurons: int
    spikes_mean: float  # spikes (sigma-delta: messages) of the whole population per sample
    spikes_max: int  # the most spikes of any one neuron in any sample
    histogram: tuple[float, ...] = Field(alias="spike_histogram")  # neurons per sample with k spikes, k = 0..T
    synops_in: float  # per sample: synaptic operations arriving here (its sources' spikes x their synapses onto it)
    ann_macs: int  # the ANN's multiply-accumulates computing this population, per inference (the same direction)


class EnergyEstimate(BaseModel):
    """Energy per inference from counts and the target's per-operation figures: an estimate, not a
    measurement (estimate is always True, so that no reader takes it for one)."""
    model_config = ConfigDict(frozen=True)

    estimate: bool = True
    target: str
    timesteps: int
    snn_uj: float
    ann_uj: float
    synops: float
    neuron_updates: int
    spikes: float
    synop_pj: float
    neuron_update_pj: float
    spike_pj: float
    source: str
    ann_mac_pj: float
    ann_source: str


class CountTally:
    """Accumulates per-neuron spike counts (B, *shape) over batches of one run of `steps` steps."""

    def __init__(self, net: SpikingNet, steps: int):
        self.net, self.steps, self.samples = net, steps, 0
        shapes = {p.name: p.shape for p in net.populations}
        self.macs = {p.name: 0 for p in net.populations}
        # per projection, each source neuron's synapses onto the destination (compiler/resources.py:
        # counted from the weights, no synapse list built)
        self.fan_out = [(q.src, q.dst, synapses_out(q, shapes[q.src], shapes[q.dst])) for q in net.projections]
        for q in net.projections:
            self.macs[q.dst] += ann_macs(q, shapes[q.src], shapes[q.dst])
        self.total = {p.name: 0 for p in net.populations}
        self.peak = {p.name: 0 for p in net.populations}
        self.synops = {p.name: 0 for p in net.populations}
        self.hist = {p.name: np.zeros(steps + 1, np.int64) for p in net.populations}

    def add(self, counts: dict[str, np.ndarray]) -> None:
        flat = {name: c.reshape(len(c), -1).astype(np.int64) for name, c in counts.items()}
        for name, f in flat.items():
            self.total[name] += int(f.sum())
            self.peak[name] = max(self.peak[name], int(f.max(initial=0)))
            self.hist[name] += np.bincount(f.ravel(), minlength=self.steps + 1)[: self.steps + 1]
        for src, dst, fan_out in self.fan_out:
            self.synops[dst] += int((flat[src] * fan_out).sum())
        self.samples += len(next(iter(counts.values())))

    def layers(self) -> tuple[LayerCounts, ...]:
        n = max(self.samples, 1)
        return tuple(LayerCounts(population=p.name, layer=p.layer, neurons=p.size, spikes_mean=self.total[p.name] / n,
                                 spikes_max=self.peak[p.name], histogram=tuple(float(h) / n for h in self.hist[p.name]),
                                 synops_in=self.synops[p.name] / n, ann_macs=self.macs[p.name]) for p in self.net.populations)


def energy_estimate(net: SpikingNet, layers: tuple[LayerCounts, ...], target: Target, steps: int) -> EnergyEstimate:
    """Energy per inference from the counts and the target's per-operation figures: an estimate.
    Every chip neuron is updated every step; host spike sources are not chip neurons."""
    e = target.energy
    chip_neurons = sum(p.size for p in net.populations if p.on_chip)
    synops = sum(layer.synops_in for layer in layers)
    spikes = sum(layer.spikes_mean for layer in layers)
    snn_pj = synops * e.synop_pj + chip_neurons * steps * e.neuron_update_pj + spikes * e.spike_pj
    ann_pj = sum(layer.ann_macs for layer in layers) * e.ann_mac_pj
    return EnergyEstimate(target=target.name, timesteps=steps, snn_uj=snn_pj / 1e6, ann_uj=ann_pj / 1e6, synops=synops,
                          neuron_updates=chip_neurons * steps, spikes=spikes, synop_pj=e.synop_pj,
                          neuron_update_pj=e.neuron_update_pj, spike_pj=e.spike_pj, source=e.source,
                          ann_mac_pj=e.ann_mac_pj, ann_source=e.ann_source)
