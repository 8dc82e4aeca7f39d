"""The Python API; the CLI calls exactly these functions. Each validates its arguments, then hands
the work to the module that does it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from snnc.backends.export import EXPORTERS, TAKES_DATA
from snnc.backends.jax.simulator import trace
from snnc.backends.lava.runner import BACKENDS, lava_trace
from snnc.compiler.codings import coding_for
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.options import MAX_TIMESTEPS, CompileOptions, OptionError
from snnc.compiler.passes.balance_thresholds import Calibration
from snnc.compiler.pipeline import compile_graph
from snnc.errors import SnncError
from snnc.runtime.artifact import Artifact, load_artifact, save_artifact
from snnc.runtime.compare import compare
from snnc.runtime.data import array_info, file_sha256, iter_x
from snnc.runtime.evaluation import BATCH, evaluate_artifact, first_samples
from snnc.runtime.inspection import inspection, layer_rows
from snnc.runtime.manifest import CalibrationData, Manifest, SourceFile, stack_versions
from snnc.runtime.outputs import check_output, check_output_dir, write_atomically
from snnc.runtime.progress import tracked
from snnc.runtime.results import CompileResult, EvaluateResult, ExportResult, Inspection, LayerRow, TimestepAccuracy, VerifyResult
from snnc.runtime.trace import save_trace

TRACE_BYTES_MAX = 4 << 30  # verify keeps both traces in memory: refuse runs that would need more


def _count(name: str, value: int | None, high: int | None = None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1
                              or (high is not None and value > high)):
        raise OptionError(name, f"must be an integer from 1{f' to {high:,}' if high else ''}, not {value!r}")
    return value


def _timesteps(values: Sequence[int]) -> tuple[int, ...]:
    values = tuple(values)
    if not values:
        raise OptionError("timesteps", "give at least one")
    return tuple(sorted({_count("timesteps", t, MAX_TIMESTEPS) for t in values}))


def compile(model: str | Path, target: str = "loihi2", calibration: str | Path | None = None,
            output: str | Path | None = None, **options) -> CompileResult:
    """Compile a Keras .h5/.keras model into a .snn artifact for `target`. options: the fields of
    CompileOptions (neuron="lif" | "sigma-delta", maxpool, percentile, max_rate, timesteps_hint)."""
    opts = CompileOptions.checked(target=target, **options)
    model = Path(model)
    output = check_output(Path(output) if output is not None else model.with_suffix(".snn"), [model, calibration])
    graph = load_model_graph(model)
    cal, cal_info = None, None
    if calibration is not None:
        calibration = Path(calibration)
        samples = array_info(calibration).shape[0]
        cal = Calibration(lambda: tracked(iter_x(calibration, graph.input.op.shape, BATCH), "calibrating", samples),
                          opts.percentile)
        cal_info = CalibrationData(file=calibration.name, sha256=file_sha256(calibration), samples=samples,
                                   percentile=opts.percentile)
    compiled = compile_graph(graph, opts.target_spec, cal, coding_for(opts), opts.maxpool)
    manifest = Manifest(versions=stack_versions(), source_model=SourceFile(file=model.name, sha256=file_sha256(model)),
                        calibration=cal_info, target=opts.target, requested_target=target, options=opts,
                        scales=compiled.scales, thresholds={p.name: int(p.vth) for p in compiled.spiking.populations},
                        notes=compiled.notes)
    save_artifact(output, Artifact(manifest, compiled.spiking, compiled.float_net))
    return CompileResult(output=output, network=compiled.spiking, layers=layer_rows(compiled.spiking),
                         notes=compiled.notes, manifest=manifest)


def evaluate(artifact: str | Path, data: str | Path, timesteps: Sequence[int] = (8, 16, 32, 64),
             limit: int | None = None) -> EvaluateResult:
    """Accuracy of the integer network (JAX reference simulator) at each T, and of the ANN; spike,
    synapse and energy counts per layer at the largest T."""
    timesteps, limit = _timesteps(timesteps), _count("samples", limit)
    return evaluate_artifact(load_artifact(Path(artifact)), Path(data), timesteps, limit)


def verify(artifact: str | Path, data: str | Path, samples: int = 2, timesteps: int = 24,
           backend: str = "lava-cpu", trace_dir: str | Path | None = None, timeout: float = 600.0) -> VerifyResult:
    """Run the first `samples` inputs of `data` for `timesteps` steps through the JAX reference and
    through Lava (lava-cpu: Loihi2SimCfg fixed_pt; loihi2-hw: the chip) and compare every u, v and
    spike of every population at every step exactly (docs/verify.md)."""
    _count("samples", samples), _count("timesteps", timesteps, MAX_TIMESTEPS)
    if backend not in BACKENDS:
        raise OptionError("backend", f"must be one of {', '.join(BACKENDS)}, not {backend!r}")
    artifact = Path(artifact)
    trace_dir = None if trace_dir is None else check_output_dir(Path(trace_dir), [artifact, data])
    art = load_artifact(artifact)
    net, target = art.spiking, art.target
    needed = 2 * 3 * 4 * samples * timesteps * sum(p.size for p in net.populations)  # u, v, s int32, both sides
    if needed > TRACE_BYTES_MAX:
        raise SnncError(f"{samples} samples x {timesteps} steps need about {needed / 2**30:.1f} GiB of traces; verify fewer")
    drive = net.encode(first_samples(Path(data), net.input.shape, samples))
    start = time.perf_counter()
    other = lava_trace(net, drive, timesteps, backend, timeout, target)
    lava_seconds = time.perf_counter() - start
    start = time.perf_counter()
    reference = trace(net, target, drive, timesteps)
    jax_seconds = time.perf_counter() - start
    sha = file_sha256(artifact)
    if trace_dir is not None:
        trace_dir.mkdir(parents=True, exist_ok=True)
        save_trace(trace_dir / "jax.npz", reference, artifact_sha256=sha)
        save_trace(trace_dir / f"{backend}.npz", other, artifact_sha256=sha)
    return VerifyResult(comparison=compare(reference, other, voltage_on_spike=backend != "loihi2-hw"),
                        samples=len(drive), timesteps=timesteps, backend=backend, artifact_sha256=sha,
                        seconds={"jax": round(jax_seconds, 3), "lava": round(lava_seconds, 3)})


def export(artifact: str | Path, output: str | Path, format: str = "graphml", data: str | Path | None = None,
           samples: int = 64, timesteps: int = 64) -> ExportResult:
    """Write the compiled network to `output` in `format` (backends/export.py: graphml, nir, netx)."""
    if format not in EXPORTERS:
        raise OptionError("format", f"unknown export format {format!r}; this snnc writes: {', '.join(EXPORTERS)}")
    if data is not None and format not in TAKES_DATA:
        raise OptionError("data", f"weights the edges of a graphml export; {format} takes no data")
    _count("samples", samples), _count("timesteps", timesteps, MAX_TIMESTEPS)
    output = check_output(Path(output), [artifact, data])
    art = load_artifact(Path(artifact))
    with write_atomically(output) as tmp:
        notes = EXPORTERS[format](art, tmp, data, samples, timesteps)
    return ExportResult(path=output, notes=tuple(notes))


def report(artifact: str | Path, data: str | Path, output: str | Path, timesteps: Sequence[int] = (8, 16, 32, 64),
           limit: int | None = None) -> Path:
    """PNG plots and an index.md for `artifact` on `data` in the folder `output`; returns the index."""
    from snnc.runtime.report import write_report

    output = check_output_dir(Path(output), [artifact, data])
    result = evaluate(artifact, data, timesteps, limit)
    art = load_artifact(Path(artifact))
    net = art.spiking
    x = first_samples(Path(data), net.input.shape, 1)
    spikes = trace(net, art.target, net.encode(x), max(result.results[-1].timesteps, 1)).s
    raster = {name: s[:, 0] for name, s in spikes.items()}
    return write_report(output, Path(artifact).name, result, art.float_net, net, raster)


def inspect(artifact: str | Path) -> Inspection:
    """The manifest, the integer IR per population and projection, and the resources it needs."""
    return inspection(load_artifact(Path(artifact)))


__all__ = ["compile", "evaluate", "verify", "inspect", "export", "report", "CompileResult", "EvaluateResult",
           "VerifyResult", "ExportResult", "Inspection", "LayerRow", "TimestepAccuracy"]
