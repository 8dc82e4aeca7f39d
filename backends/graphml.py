"""The synapse graph (snnbuilder-style): every neuron a node, every synapse a directed edge with
its integer weight (weight << weight_exp), and, when rates are given, the presynaptic firing rate
and weight x rate."""

from __future__ import annotations

import networkx as nx
import numpy as np

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.ir.synapses import synapse_matrix


def synapse_graph(net: SpikingNet, rates: dict[str, np.ndarray] | None = None) -> nx.DiGraph:
    """rates: spikes per step per neuron (population shape), e.g. averaged over a data set."""
    graph = nx.DiGraph()
    shapes = {p.name: p.shape for p in net.populations}
    for pop in net.populations:
        for i, index in enumerate(np.ndindex(*pop.shape)):
            graph.add_node(f"{pop.name}:{i}", population=pop.name, layer=pop.layer, role=pop.role,
                           index=str(list(index)))
    for q in net.projections:
        matrix = synapse_matrix(q, shapes[q.src], shapes[q.dst]).tocoo()
        rate = None if rates is None else np.asarray(rates[q.src], np.float64).reshape(-1)
        for dst, src, w in zip(matrix.row, matrix.col, matrix.data):
            weight = int(w) << q.weight_exp if q.weight_exp >= 0 else int(w) >> -q.weight_exp
            attributes = {"weight": weight}
            if rate is not None:
                attributes.update(rate=float(rate[src]), weighted=float(weight * rate[src]))
            graph.add_edge(f"{q.src}:{src}", f"{q.dst}:{dst}", **attributes)
    return graph
