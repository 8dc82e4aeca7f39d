"""The export formats, one registry read by the API and the CLI: name -> writer(art, path, data, samples,
timesteps) -> notes on what the format cannot hold exactly."""

from __future__ import annotations

from pathlib import Path

from snnc.runtime.artifact import Artifact


def _graphml(art: Artifact, path: Path, data, samples: int, timesteps: int) -> list[str]:
    """The synapse graph: neurons as nodes, synapses as weighted edges; with data, each edge also
    carries the presynaptic firing rate measured on the first `samples` inputs."""
    import networkx as nx

    from snnc.backends.graphml import synapse_graph
    from snnc.backends.jax.simulator import neuron_spike_counts
    from snnc.runtime.evaluation import first_samples

    net, rates = art.spiking, None
    if data is not None:
        x = first_samples(Path(data), net.sample_shape, samples)
        counts = neuron_spike_counts(net, art.target, net.encode(x), timesteps)
        rates = {name: c.mean(axis=0) / timesteps for name, c in counts.items()}
    nx.write_graphml(synapse_graph(net, rates), path)
    return []


def _nir(art: Artifact, path: Path, data, samples: int, timesteps: int) -> list[str]:
    """A NIR graph (HDF5) of Affine/Conv2d synapses and IF neurons (docs/export.md)."""
    from snnc.backends.nir_graph import write_nir

    return write_nir(art.spiking, path, art.target)


def _netx(art: Artifact, path: Path, data, samples: int, timesteps: int) -> list[str]:
    """A lava-dl netx network description (HDF5) simulated for `timesteps` steps."""
    from snnc.backends.netx import write_netx

    return write_netx(art.spiking, path, timesteps)


EXPORTERS = {"graphml": _graphml, "nir": _nir, "netx": _netx}
TAKES_DATA = ("graphml",)
