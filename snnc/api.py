"""The Python API; the CLI calls exactly these functions."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

import jax
import numpy as np

from snnc.backends.jax.simulator import neuron_spike_counts, readout_and_counts, trace
from snnc.backends.lava.runner import lava_trace
from snnc.compiler.ir.spiking import SigmaDeltaPopulation, SpikeInput, SpikingNet
from snnc.compiler.passes.balance_thresholds import Calibration
from snnc.compiler.passes.check_limits import fan_in
from snnc.compiler.passes.quantize import RateCoding
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.pipeline import compile_graph
from snnc.compiler.resources import chips_needed, core_usage
from snnc.errors import SnncError
from snnc.runtime.artifact import Artifact, load_artifact, save_artifact
from snnc.runtime.compare import Comparison, compare
from snnc.runtime.counts import CountTally, LayerCounts, energy_estimate
from snnc.runtime.data import array_info, file_sha256, iter_x, load_labels
from snnc.runtime.trace import save_trace
from snnc.targets import get_target

BATCH = 256


@dataclass(frozen=True)
class LayerRow:
    population: str
    layer: str
    role: str
    shape: tuple[int, ...]
    neurons: int
    synapses: str  # e.g. "conv 3x3x1 8b" per incoming projection
    weight_exp: int
    vth: int
    bias_exp: int


@dataclass(frozen=True)
class CompileResult:
    output: Path
    network: SpikingNet
    layers: tuple[LayerRow, ...]
    notes: tuple[str, ...]
    manifest: dict


@dataclass(frozen=True)
class TimestepAccuracy:
    timesteps: int
    accuracy: float
    correct: int


@dataclass(frozen=True)
class EvaluateResult:
    samples: int
    results: tuple[TimestepAccuracy, ...]
    ann_accuracy: float | None
    layers: tuple[LayerCounts, ...] = ()  # counts per population at the largest T
    energy: dict | None = None  # energy estimate per inference at the largest T
    notes: tuple[str, ...] = field(default=())

    @property
    def synops(self) -> float:
        return sum(layer.synops for layer in self.layers)

    def to_json(self) -> dict:
        return {"samples": self.samples, "ann_accuracy": self.ann_accuracy,
                "results": [{"timesteps": r.timesteps, "accuracy": r.accuracy, "correct": r.correct} for r in self.results],
                "layers": [layer.to_json() for layer in self.layers], "synops": self.synops, "energy": self.energy}


@dataclass(frozen=True)
class VerifyResult:
    comparison: Comparison
    samples: int
    timesteps: int
    backend: str
    artifact_sha256: str
    seconds: dict[str, float]  # "jax", "lava": wall time of each side

    @property
    def bit_exact(self) -> bool:
        return self.comparison.bit_exact

    def to_json(self) -> dict:
        return {**self.comparison.to_json(), "samples": self.samples, "timesteps": self.timesteps,
                "backend": self.backend, "artifact_sha256": self.artifact_sha256, "seconds": self.seconds}


@contextmanager
def _progress(description: str, total: int | None):
    """A rich progress bar on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _tracked(batches: Iterable[np.ndarray], advance) -> Iterable[np.ndarray]:
    for batch in batches:
        yield batch
        advance(len(batch))


def _versions() -> dict:
    names = ("snnc", "jax", "jaxlib", "lava-nc", "numpy", "keras")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _exponent(pop) -> int:
    """The shift a population's bias mantissa gets: bias_exp (LIF), state_exp (sigma-delta)."""
    if isinstance(pop, SigmaDeltaPopulation):
        return pop.state_exp
    return getattr(pop, "bias_exp", 0)  # a SpikeInput has no bias


def _input_kind(pop) -> str:
    return "host spike trains (input)" if isinstance(pop, SpikeInput) else "bias (input)"


def layer_rows(net: SpikingNet, target) -> tuple[LayerRow, ...]:
    rows = []
    for pop in net.populations:
        synapses = []
        for q in net.incoming(pop.name):
            bits = "8b" if q.weight.min() >= 0 or q.weight.max() <= 0 else "7b+sign"
            what = f"{q.src}: {q.kind} {'x'.join(map(str, q.weight.shape[:3]))}" if q.kind == "conv" else \
                f"{q.src}: dense {fan_in(q, net.population(q.src).size)}"
            synapses.append(f"{what} {bits}")
        weight_exp = max((q.weight_exp for q in net.incoming(pop.name)), default=0)
        rows.append(LayerRow(pop.name, pop.layer, pop.role, pop.shape, pop.size, "; ".join(synapses) or _input_kind(pop),
                             weight_exp, pop.vth, _exponent(pop)))
    return tuple(rows)


def compile(model: str | Path, target: str = "loihi2", calibration: str | Path | None = None,
            output: str | Path | None = None, maxpool: str = "refuse", percentile: float = 99.9,
            max_rate: float = 0.9, timesteps_hint: int = 64, neuron: str = "lif") -> CompileResult:
    """Compile a Keras .h5/.keras model into a .snn artifact for `target`, with rate-coded LIF
    neurons (neuron="lif") or graded sigma-delta neurons (neuron="sigma-delta", Loihi 2)."""
    model = Path(model)
    hardware = get_target(target)
    if neuron not in ("lif", "sigma-delta"):
        raise SnncError(f"--neuron must be 'lif' or 'sigma-delta', not {neuron!r}")
    if maxpool not in ("refuse", "avg"):
        raise SnncError(f"--maxpool must be 'refuse' or 'avg', not {maxpool!r}")
    if not 0 < percentile <= 100:
        raise SnncError(f"percentile must be in (0, 100], not {percentile}")
    if not 0 < max_rate <= 1:
        raise SnncError(f"max rate must be in (0, 1], not {max_rate}")
    output = Path(output) if output is not None else model.with_suffix(".snn")
    if not output.parent.exists():
        raise SnncError(f"{output.parent}: no such directory for the output")
    graph = load_model_graph(model)
    cal, cal_manifest = None, None
    if calibration is not None:
        calibration = Path(calibration)
        samples = array_info(calibration).shape[0]

        def batches():
            with _progress("calibrating", samples) as advance:
                yield from _tracked(iter_x(calibration, graph.input.op.shape, BATCH), advance)

        cal = Calibration(batches, percentile)
        cal_manifest = {"file": calibration.name, "sha256": file_sha256(calibration), "samples": samples,
                        "percentile": percentile}
    coding = RateCoding(max_rate=max_rate, timesteps=timesteps_hint) if neuron == "lif" else SigmaDeltaCoding()
    compiled = compile_graph(graph, hardware, cal, coding, maxpool)
    manifest = {
        "versions": _versions(),
        "source_model": {"file": model.name, "sha256": file_sha256(model)},
        "calibration": cal_manifest,
        "target": hardware.name,
        "options": {"neuron": neuron, "maxpool": maxpool, "percentile": percentile, "timesteps_hint": timesteps_hint,
                    **coding.__dict__},
        "scales": compiled.scales,
        "thresholds": {p.name: p.vth for p in compiled.spiking.populations},
        "notes": list(compiled.notes),
    }
    save_artifact(output, Artifact(manifest, compiled.spiking, compiled.float_net))
    return CompileResult(output, compiled.spiking, layer_rows(compiled.spiking, hardware), compiled.notes, manifest)


def evaluate(artifact: str | Path, data: str | Path, timesteps: Sequence[int] = (8, 16, 32, 64),
             limit: int | None = None) -> EvaluateResult:
    """Accuracy of the integer network (JAX reference simulator) at each T, and of the ANN; spike,
    synapse and energy counts per layer at the largest T."""
    if not timesteps or any(int(t) < 1 for t in timesteps):
        raise SnncError(f"timesteps must be positive integers, got {list(timesteps)}")
    timesteps = tuple(sorted({int(t) for t in timesteps}))
    art = load_artifact(Path(artifact))
    hardware = get_target(art.manifest["target"])
    net, data = art.spiking, Path(data)
    labels = load_labels(data, limit)
    correct = {t: 0 for t in timesteps}
    ann_correct = 0
    forward = jax.jit(lambda x: art.float_net.forward(x)["output"])
    tally = CountTally(net, timesteps[-1])
    seen = 0
    with _progress("evaluating", len(labels)) as advance:
        for batch in _tracked(iter_x(data, net.input.shape, BATCH, len(labels)), advance):
            y = labels[seen: seen + len(batch)]
            seen += len(batch)
            bias = net.encode(batch)
            out, counts = readout_and_counts(net, hardware, bias, timesteps)
            tally.add(counts)
            for t in timesteps:
                correct[t] += int((out[t].reshape(len(batch), -1).argmax(1) == y).sum())
            ann_correct += int((np.asarray(forward(batch)).reshape(len(batch), -1).argmax(1) == y).sum())
    if seen == 0:
        raise SnncError(f"{data}: no samples")
    results = tuple(TimestepAccuracy(t, correct[t] / seen, correct[t]) for t in timesteps)
    layers = tally.layers()
    return EvaluateResult(seen, results, ann_correct / seen, layers, energy_estimate(net, layers, hardware, timesteps[-1]))


def _first_samples(data: str | Path, net: SpikingNet, count: int) -> np.ndarray:
    x = next(iter_x(Path(data), net.input.shape, count, count), None)
    if x is None:
        raise SnncError(f"{data}: no samples")
    return x


def verify(artifact: str | Path, data: str | Path, samples: int = 2, timesteps: int = 24,
           backend: str = "lava-cpu", trace_dir: str | Path | None = None, timeout: float = 600.0) -> VerifyResult:
    """Run the first `samples` inputs of `data` for `timesteps` steps through the JAX reference and
    through Lava (lava-cpu: Loihi2SimCfg fixed_pt; loihi2-hw: the chip) and compare every u, v and
    spike of every population at every step exactly (docs/verify.md)."""
    if samples < 1 or timesteps < 1:
        raise SnncError(f"--samples and --timesteps must be positive, got {samples} and {timesteps}")
    artifact = Path(artifact)
    art = load_artifact(artifact)
    net = art.spiking
    x = _first_samples(data, net, samples)
    bias = net.encode(x)
    start = time.perf_counter()
    other = lava_trace(net, bias, timesteps, backend, timeout)
    lava_seconds = time.perf_counter() - start
    start = time.perf_counter()
    reference = trace(net, get_target(art.manifest["target"]), bias, timesteps)
    jax_seconds = time.perf_counter() - start
    sha = file_sha256(artifact)
    if trace_dir is not None:
        trace_dir = Path(trace_dir)
        trace_dir.mkdir(parents=True, exist_ok=True)
        save_trace(trace_dir / "jax.npz", reference, artifact_sha256=sha)
        save_trace(trace_dir / f"{backend}.npz", other, artifact_sha256=sha)
    comparison = compare(reference, other, voltage_on_spike=backend != "loihi2-hw")
    return VerifyResult(comparison, len(x), timesteps, backend, sha,
                        {"jax": round(jax_seconds, 3), "lava": round(lava_seconds, 3)})


@dataclass(frozen=True)
class ExportResult:
    path: Path
    notes: tuple[str, ...] = ()  # what the format cannot hold exactly


EXPORT_FORMATS = ("graphml", "nir", "netx")


def export(artifact: str | Path, output: str | Path, format: str = "graphml", data: str | Path | None = None,
           samples: int = 64, timesteps: int = 64) -> ExportResult:
    """Write the compiled network to `output` as
      graphml - the synapse graph: neurons as nodes, synapses as weighted edges; with `data`, edges
                also carry the presynaptic firing rate measured on its first `samples` inputs;
      nir     - a NIR graph (HDF5) of Affine/Conv2d synapses and IF neurons (docs/export.md);
      netx    - a lava-dl netx network description (HDF5) simulated for `timesteps` steps."""
    if format not in EXPORT_FORMATS:
        raise SnncError(f"unknown export format {format!r}; this snnc writes: {', '.join(EXPORT_FORMATS)}")
    if data is not None and format != "graphml":
        raise SnncError(f"--data weights the edges of a graphml export; {format} takes no data")
    output = Path(output)
    if not output.parent.exists():
        raise SnncError(f"{output.parent}: no such directory for the output")
    art = load_artifact(Path(artifact))
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        if format == "graphml":
            notes = _write_graphml(art, tmp, data, samples, timesteps)
        elif format == "nir":
            from snnc.backends.nir_graph import write_nir

            notes = write_nir(art.spiking, tmp)
        else:
            from snnc.backends.netx import write_netx

            notes = write_netx(art.spiking, tmp, timesteps)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(output, tuple(notes))


def _write_graphml(art: Artifact, path: Path, data, samples: int, timesteps: int) -> list[str]:
    import networkx as nx

    from snnc.backends.graphml import synapse_graph

    net = art.spiking
    rates = None
    if data is not None:
        x = _first_samples(data, net, samples)
        counts = neuron_spike_counts(net, get_target(art.manifest["target"]), net.encode(x), timesteps)
        rates = {name: c.mean(axis=0) / timesteps for name, c in counts.items()}
    nx.write_graphml(synapse_graph(net, rates), path)
    return []


def report(artifact: str | Path, data: str | Path, output: str | Path, timesteps: Sequence[int] = (8, 16, 32, 64),
           limit: int | None = None) -> Path:
    """PNG plots and an index.md for `artifact` on `data` in the folder `output`; returns the index."""
    from snnc.runtime.report import write_report

    result = evaluate(artifact, data, timesteps, limit)
    art = load_artifact(Path(artifact))
    net = art.spiking
    x = _first_samples(data, net, 1)
    spikes = trace(net, get_target(art.manifest["target"]), net.encode(x), max(timesteps)).s
    raster = {name: s[:, 0] for name, s in spikes.items()}
    return write_report(Path(output), Path(artifact).name, result, art.float_net, net, raster)


def inspect(artifact: str | Path) -> dict:
    """The manifest and the integer IR of an artifact, as plain data."""
    art = load_artifact(Path(artifact))
    hardware = get_target(art.manifest["target"])
    usage = core_usage(art.spiking, hardware)
    return {"manifest": art.manifest, "neuron": art.spiking.neuron,
            "resources": {"estimate": True, "cores": sum(u.cores for u in usage), "chips": chips_needed(usage, hardware),
                          "populations": [u.__dict__ for u in usage]},
            "layers": [row.__dict__ for row in layer_rows(art.spiking, hardware)],
            "projections": [{"src": q.src, "dst": q.dst, "kind": q.kind, "weight_shape": list(q.weight.shape),
                             "weight_exp": q.weight_exp, "weight_min": int(q.weight.min()), "weight_max": int(q.weight.max()),
                             **({"strides": list(q.conv.strides), "pads": [list(p) for p in q.conv.pads], "groups": q.conv.groups}
                                if q.conv else {})} for q in art.spiking.projections],
            "encoding": {"gain": art.spiking.encoding.gain, "max_mant": art.spiking.encoding.max_mant}}
