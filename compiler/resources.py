"""Neuromorphic cores and chips a SpikingNet needs on a target: an estimate from the target's
per-core neuron and synapse-memory capacities (each population on cores of its own; every synapse
stored once at target.synapse_bytes, convolution weight sharing not exploited; host spike
sources need no cores)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.ir.synapses import synapse_matrix
from snnc.targets import Target


@dataclass(frozen=True)
class CoreUsage:
    population: str
    layer: str
    neurons: int
    synapses: int  # incoming synapses (nonzero weights)
    cores: int


def core_usage(net: SpikingNet, target: Target) -> tuple[CoreUsage, ...]:
    shapes = {p.name: p.shape for p in net.populations}
    rows = []
    for pop in net.populations:
        if not pop.on_chip:
            continue
        synapses = sum(synapse_matrix(q, shapes[q.src], shapes[q.dst]).nnz for q in net.incoming(pop.name))
        cores = max(math.ceil(pop.size / target.neurons_per_core),
                    math.ceil(synapses * target.synapse_bytes / target.synapse_bytes_per_core), 1)
        rows.append(CoreUsage(pop.name, pop.layer, pop.size, synapses, cores))
    return tuple(rows)


def chips_needed(usage: tuple[CoreUsage, ...], target: Target) -> int:
    return math.ceil(sum(u.cores for u in usage) / target.cores_per_chip)


def resource_violations(usage: tuple[CoreUsage, ...], target: Target) -> list[str]:
    cores = sum(u.cores for u in usage)
    capacity = target.cores_per_chip * target.chips
    if cores <= capacity:
        return []
    return [f"network: cores {cores} > {capacity} ({target.chips} chip(s) x {target.cores_per_chip} cores; "
            + ", ".join(f"{u.population} {u.cores}" for u in usage) + ")"]
