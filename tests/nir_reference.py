"""An independent simulator of NIR graphs for the export tests: float64, discrete time (dt = 1,
forward Euler), channels first, batch first, for the nodes snnc writes (Input, Affine, Conv2d,
Flatten, IF, I, Output). A neuron node's metadata "v_init" is its starting potential.

synaptic_delay=1: every neuron sees the synapse nodes applied to the spikes of the step before
(Loihi's timing); synaptic_delay=0: edges are instantaneous (NIR's own reading)."""

from __future__ import annotations

from graphlib import TopologicalSorter

import nir
import numpy as np


def channels_first(x: np.ndarray) -> np.ndarray:
    """(B, T, H, W, C) -> (B, T, C, H, W); vectors unchanged."""
    return np.moveaxis(x, -1, 2) if x.ndim == 5 else x


def conv2d(x: np.ndarray, node: nir.Conv2d) -> np.ndarray:
    """Cross-correlation of x (B, C, H, W) with node.weight (O, C / groups, kh, kw), PyTorch style."""
    weight = np.asarray(node.weight, np.float64)
    (sh, sw), (ph, pw), groups = tuple(node.stride), tuple(node.padding), int(node.groups)
    out_c, in_c, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros((x.shape[0], out_c, oh, ow))
    per_group = out_c // groups
    for g in range(groups):
        xs, ws = xp[:, g * in_c:(g + 1) * in_c], weight[g * per_group:(g + 1) * per_group]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                y[:, g * per_group:(g + 1) * per_group] += np.einsum("bchw,oc->bohw", patch, ws[:, :, i, j])
    return y + np.asarray(node.bias, np.float64)[None, :, None, None]


def _synapses(node: nir.NIRNode, x: np.ndarray) -> np.ndarray:
    if isinstance(node, nir.Affine):
        return x.reshape(x.shape[0], -1) @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
    if isinstance(node, nir.Conv2d):
        return conv2d(x, node)
    if isinstance(node, nir.Flatten):
        return x.reshape(x.shape[0], -1)
    raise TypeError(f"no reference for {type(node).__name__}")


def simulate(graph: nir.NIRGraph, spikes: np.ndarray, synaptic_delay: int) -> dict[str, np.ndarray]:
    """spikes (B, T, *input shape) into the Input node -> (B, T, *shape) per neuron node: spikes of
    IF nodes, the state of I nodes."""
    predecessors = {name: [s for s, d in graph.edges if d == name] for name in graph.nodes}
    order = list(TopologicalSorter(predecessors).static_order())
    neurons = [n for n in order if isinstance(graph.nodes[n], (nir.IF, nir.I))]
    sources = {n for n in graph.nodes if isinstance(graph.nodes[n], nir.Input)} | set(neurons)
    batch, steps = spikes.shape[:2]
    v = {n: np.full((batch, *graph.nodes[n].output_type["output"]), float(graph.nodes[n].metadata.get("v_init", 0.0)))
         for n in neurons}
    previous = {n: np.zeros_like(v[n]) for n in neurons}
    previous |= {n: np.zeros(spikes[:, 0].shape) for n in sources - set(neurons)}
    records = {n: [] for n in neurons}
    for t in range(steps):
        current = {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                current[name] = spikes[:, t].astype(np.float64)
                continue
            inputs = [(previous if synaptic_delay and s in sources else current)[s] for s in predecessors[name]]
            if isinstance(node, nir.Output):
                continue
            if name not in v:
                (x,) = inputs
                current[name] = _synapses(node, x)
                continue
            v[name] = v[name] + np.asarray(node.r, np.float64) * sum(inputs)
            if isinstance(node, nir.IF):
                fired = v[name] > np.asarray(node.v_threshold, np.float64)
                v[name] = np.where(fired, np.asarray(node.v_reset, np.float64), v[name])
                current[name] = fired.astype(np.float64)
            else:
                current[name] = v[name].copy()
            records[name].append(current[name])
        previous = {n: current[n] for n in sources}
    return {n: np.stack(r, axis=1) for n, r in records.items()}
