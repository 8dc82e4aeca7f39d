"""The Python API; the CLI calls exactly these functions. Each validates its arguments, then hands
the work to the module that does it."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Sequence

from snnc.backends.export import EXPORTERS, TAKES_DATA
from snnc.backends.jax.simulator import trace
from snnc.backends.lava.runner import BACKENDS
from snnc.compiler.codings import coding_for
from snnc.compiler.frontend.keras import load_model_graph
from snnc.compiler.options import CompileOptions, FinetuneOptions, OptionError, choices
from snnc.compiler.passes.balance_thresholds import Calibration
from snnc.compiler.pipeline import compile_graph
from snnc.runtime.artifact import Artifact, load_artifact, save_artifact
from snnc.runtime import arguments as check
from snnc.runtime.data import array_info, file_sha256, iter_x
from snnc.runtime.evaluation import BATCH, evaluate_artifact, first_samples
from snnc.runtime.inspection import inspection, layer_rows
from snnc.runtime.manifest import CalibrationData, Manifest, SourceFile, stack_versions
from snnc.runtime.outputs import check_output, check_output_dir, write_atomically
from snnc.runtime.progress import tracked
from snnc.runtime.results import (CompileResult, EvaluateResult, ExportResult, FinetuneResult, Inspection, LayerRow,
                                  TimestepAccuracy, VerifyResult)
from snnc.runtime.sweep import SweepResult
from snnc.runtime.verification import verify_artifact


def compile(model: str | Path, target: str = "loihi2", calibration: str | Path | None = None,
            output: str | Path | None = None, **options) -> CompileResult:
    """Compile a Keras .h5/.keras model into a .snn artifact for `target`. options: the fields of
    CompileOptions (coding="rate" | "sigma-delta" | "population" | "ttfs", population, maxpool, percentile, max_rate,
    timesteps_hint)."""
    opts = CompileOptions.checked(target=target, **options)
    model = Path(model)
    output = check_output(Path(output) if output is not None else model.with_suffix(".snn"), [model, calibration])
    graph = load_model_graph(model)
    cal, cal_info = None, None
    if calibration is not None:
        calibration = Path(calibration)
        samples = array_info(calibration).shape[0]
        cal = Calibration(lambda: tracked(iter_x(calibration, graph.input.op.shape, BATCH), "calibrating", samples),
                          opts.percentile, min((float(x.min()) for x in iter_x(calibration, None, BATCH)), default=0.0))
        cal_info = CalibrationData(file=calibration.name, sha256=file_sha256(calibration), samples=samples,
                                   percentile=opts.percentile)
    spec = opts.target_spec
    compiled = compile_graph(graph, spec, cal, coding_for(opts), opts.maxpool)
    manifest = Manifest(versions=stack_versions(), source_model=SourceFile(file=model.name, sha256=file_sha256(model)),
                        calibration=cal_info, target=spec.name, requested_target=str(target), options=opts,
                        scales=compiled.scales, thresholds={p.name: int(p.vth) for p in compiled.spiking.populations},
                        notes=compiled.notes, target_spec=spec, placement=compiled.placement)
    save_artifact(output, Artifact(manifest, compiled.spiking, compiled.float_net))
    return CompileResult(output=output, network=compiled.spiking, layers=layer_rows(compiled.spiking),
                         notes=compiled.notes, manifest=manifest)


def evaluate(artifact: str | Path, data: str | Path, timesteps: Sequence[int] = (8, 16, 32, 64),
             limit: int | None = None, devices: int | None = None) -> EvaluateResult:
    """Accuracy of the integer network (JAX reference simulator) at each T, and of the ANN; spike,
    synapse and energy counts per layer at the largest T. devices: split each batch over the first N
    JAX devices (jax.sharding over the batch axis); the integers equal a one-device run's."""
    timesteps, limit, devices = check.timesteps(timesteps), check.count("samples", limit), check.devices(devices)
    return evaluate_artifact(load_artifact(Path(artifact)), Path(data), timesteps, limit, devices)


def verify(artifact: str | Path, data: str | Path, samples: int = 2, timesteps: int = 24,
           backend: str = "lava-cpu", trace_dir: str | Path | None = None, timeout: float = 600.0) -> VerifyResult:
    """Run the first `samples` inputs of `data` for `timesteps` steps through the JAX reference and
    through Lava (lava-cpu: Loihi2SimCfg fixed_pt; loihi2-hw: the chip) and compare every u, v and
    spike of every population at every step exactly (docs/verify.md)."""
    check.count("samples", samples), check.steps(timesteps), check.one_of("backend", backend, BACKENDS)
    trace_dir = None if trace_dir is None else check_output_dir(Path(trace_dir), [artifact, data])
    return verify_artifact(Path(artifact), Path(data), samples, timesteps, backend, trace_dir, timeout)


def export(artifact: str | Path, output: str | Path, format: str = "graphml", data: str | Path | None = None,
           samples: int = 64, timesteps: int = 64) -> ExportResult:
    """Write the compiled network to `output` in `format` (backends/export.py: graphml, nir, netx)."""
    check.one_of("format", format, tuple(EXPORTERS))
    if data is not None and format not in TAKES_DATA:
        raise OptionError("data", f"weights the edges of a graphml export; {format} takes no data")
    check.count("samples", samples), check.steps(timesteps)
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
    x = first_samples(Path(data), net.sample_shape, 1)
    spikes = trace(net, art.target, net.encode(x), max(result.results[-1].timesteps, 1)).s
    raster = {name: s[:, 0] for name, s in spikes.items()}
    return write_report(output, Path(artifact).name, result, art.float_net, net, raster)


def sweep(model: str | Path, calibration: str | Path, data: str | Path, output: str | Path = "sweep",
          codings: Sequence[str] = ("rate", "sigma-delta", "population", "ttfs"), timesteps: Sequence[int] = (8, 16, 32, 64),
          percentiles: Sequence[float | None] = (None,), max_rates: Sequence[float] = (1.0,), limit: int | None = None,
          workers: int | None = None, max_steps: int | None = None, max_energy: float | None = None) -> SweepResult:
    """Compile `model` for every combination of codings, percentiles (None: compile's default, searched
    scales) and (rate coding) max rates in parallel worker processes, evaluate each at every T, write
    sweep.json and pareto.png to `output`, and name the most accurate configuration within max_steps
    / max_energy (uJ)."""
    from snnc.runtime.sweep import grid, sweep as run_sweep

    for coding in codings:
        check.one_of("codings", coding, choices("coding"))
    for p, r in itertools.product(percentiles, max_rates):
        CompileOptions.checked(percentile=p, max_rate=r)
    configs = grid(codings, percentiles, max_rates)
    workers = check.count("workers", workers) or min(len(configs), os.cpu_count() or 1)
    return run_sweep(Path(model), Path(calibration), Path(data), Path(output), configs, check.timesteps(timesteps),
                     check.count("samples", limit), workers, max_steps and check.steps(max_steps, "max_steps"),
                     max_energy)


def finetune(artifact: str | Path, data: str | Path, timesteps: int, output: str | Path, epochs: int = 1,
             loss: str = "ce", validation: str | Path | None = None, learning_rate: float = 1.0,
             batch: int = 32) -> FinetuneResult:
    """Surrogate-gradient training of the artifact's integer network (rate coding) on `data` at T =
    `timesteps` (loss "ce" at T, or "tet" over every step); writes a new artifact to `output`."""
    from snnc.runtime.finetuning import finetune_artifact

    options = FinetuneOptions.checked(timesteps=timesteps, epochs=epochs, loss=loss, learning_rate=learning_rate, batch=batch)
    output = check_output(Path(output), [artifact, data, validation])
    return finetune_artifact(Path(artifact), Path(data), output, options, None if validation is None else Path(validation))


def inspect(artifact: str | Path) -> Inspection:
    """The manifest, the integer IR per population and projection, and the resources it needs."""
    return inspection(load_artifact(Path(artifact)))


__all__ = ["compile", "evaluate", "verify", "inspect", "export", "report", "sweep", "finetune", "CompileResult",
           "EvaluateResult", "VerifyResult", "ExportResult", "FinetuneResult", "Inspection", "LayerRow", "SweepResult",
           "TimestepAccuracy"]
