"""`snnc` command line: thin wrappers over snnc.api. Exit 0 ok, 1 a check failed, 2 bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal, get_args, get_origin

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from snnc.compiler.options import CompileOptions, FinetuneOptions, OptionError, choices  # noqa: E402
from snnc.errors import SnncError  # noqa: E402
from snnc.runtime.compilation_cache import enable_compilation_cache  # noqa: E402
from snnc.targets import known_targets  # noqa: E402

out = Console()
EXPORT_FORMATS = ("graphml", "nir", "netx")  # backends/export.py's registry, without importing the backends
VERIFY_BACKENDS = ("lava-cpu", "loihi2-hw")


def _table(title: str, columns: tuple[str, ...], rows) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*map(str, row))
    out.print(table)


def _scale(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _notes(notes, prefix: str = "- ") -> None:
    for note in notes:
        out.print(f"{prefix}{note}", highlight=False)


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _option(name: str, **extra):
    """A click option for the CompileOptions field `name`: its flag, default, help and choices."""
    field = CompileOptions.model_fields[name]
    kind = click.Choice(choices(name)) if get_origin(field.annotation) is Literal else field.annotation
    kind = next(a for a in get_args(kind) if a is not type(None)) if type(None) in get_args(kind) else kind  # int | None
    return click.option(f"--{name.replace('_', '-')}", name, type=kind, default=field.default, show_default=True,
                        help=field.description, **extra)


def _timesteps(value: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not steps or min(steps) < 1:
        raise click.BadParameter("timesteps must be positive integers")
    return steps


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="snnc")
def cli():
    """snnc: compile Keras models into integer spiking networks for Loihi."""


@cli.command("compile")
@click.argument("model")
@click.option("--target", default="loihi2", show_default=True, help=f"one of: {', '.join(known_targets())}")
@_option("chips")
@click.option("--calibration", help="calibration data (.npz with x) for threshold balancing")
@_option("coding")
@click.option("--neuron", type=click.Choice(["lif", "sigma-delta"]), hidden=True, help="old name of --coding (lif: rate)")
@_option("population")
@_option("maxpool")
@_option("percentile")
@_option("max_rate")
@_option("reset")
@_option("timesteps_hint")
@click.option("-o", "--output", help="output artifact (default: MODEL with .snn)")
def compile_command(model, target, calibration, output, neuron, **options):
    """Compile MODEL (.h5 / .keras) into a .snn artifact."""
    from snnc import api

    if neuron:
        options["coding"] = neuron

    result = api.compile(model, target=target, calibration=calibration, output=output, **options)
    resolved = result.manifest.target
    shown = resolved if resolved == target else f"{target}: {resolved}"
    _table(f"{model} -> {result.output} ({shown})",
           ("population", "layer", "shape", "neurons", "synapses (weight bits)", "w exp", "vth", "bias exp"),
           ((r.population, r.layer, _shape(r.shape), r.neurons, r.synapses, r.weight_exp, r.vth, r.exponent)
            for r in result.layers))
    _notes(result.notes)


@cli.command()
@click.argument("artifact")
@click.option("--data", required=True, help=".npz with x and y")
@click.option("--timesteps", default="8,16,32,64", show_default=True, help="comma-separated T values")
@click.option("--samples", type=int, help="evaluate only the first N samples")
@click.option("--devices", type=int, help="split each batch over the first N JAX devices (same integers as one)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def evaluate(artifact, data, timesteps, samples, devices, as_json):
    """Accuracy of the integer SNN (JAX reference simulator) per T, beside the ANN."""
    from snnc import api

    result = api.evaluate(artifact, data, _timesteps(timesteps), limit=samples, devices=devices)
    for warning in result.warnings:
        click.echo(f"snnc: warning: {warning}", err=True)
    if as_json:
        click.echo(result.to_json())
        return
    rows = [(r.timesteps, f"{r.accuracy:.4f}", f"{100 * (r.accuracy - result.ann_accuracy):+.2f} pts")
            for r in result.results]
    _table(f"{artifact} on {data} ({result.samples} samples)", ("timesteps", "SNN accuracy", "vs ANN"),
           rows + [("ANN", f"{result.ann_accuracy:.4f}", "")])
    e = result.energy
    out.print(f"T={e.timesteps}, per sample: {e.spikes:.0f} spikes, {result.synops:,.0f} synaptic ops; "
              f"energy estimate {e.snn_uj:.3g} uJ on {e.target} vs ANN {e.ann_uj:.3g} uJ "
              "(per-operation figures and sources: --json)", highlight=False)
    lat = result.latency
    out.print(f"answer final (within T={lat.timesteps}) from step {lat.mean_steps:.1f} on average, {lat.p90_steps:.0f} "
              f"for 90% of samples, {lat.max_steps} at most; depth {lat.depth}: no coding answers before step "
              f"{lat.depth + 1}", highlight=False)


@cli.command()
@click.argument("artifact")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def inspect(artifact, as_json):
    """Show an artifact's manifest and integer IR."""
    from snnc import api

    info = api.inspect(artifact)
    if as_json:
        click.echo(info.to_json())
        return
    m, t, placed = info.manifest, info.target, info.placement
    out.print(f"[bold]{artifact}[/bold]  format {m.format}, target {t.name}: {t.chips} chip(s) x {t.cores_per_chip} "
              f"cores, {t.neurons_per_core} neurons and {t.synapse_bytes_per_core} synapse bytes per core")
    out.print(f"source {m.source_model.file} sha256 {m.source_model.sha256[:16]}...", highlight=False)
    if m.calibration:
        c = m.calibration
        out.print(f"calibration {c.file} ({c.samples} samples) sha256 {c.sha256[:16]}...", highlight=False)
    out.print("versions " + ", ".join(f"{k} {v}" for k, v in m.versions.items()), highlight=False)
    options = m.options.model_dump() | {"target": m.requested_target}  # a JSON target's numbers are shown above
    out.print("options " + ", ".join(f"{k}={v}" for k, v in options.items()), highlight=False)
    usage = {p.population: p for p in placed.populations}

    def where(name):  # synapses in, cores (on chips), of its synapses those from another chip
        p = usage.get(name)
        if p is None:
            return "-", "host", "-"
        chips = f"{p.chips[0]}" + (f"-{p.chips[-1]}" if len(p.chips) > 1 else "")
        return p.synapses, f"{p.cores} ({chips})", p.inter_chip_synapses

    _table("populations (" + "; ".join(info.summaries.values()) + ")",
           ("population", "layer", "role", "shape", "neurons", "vth", "exp", "scale", "synapses", "cores (chips)",
            "inter-chip"),
           ((r.population, r.layer, r.role, _shape(r.shape), r.neurons, r.vth, r.exponent, _scale(m.scales.get(r.population)),
             *where(r.population)) for r in info.layers))
    out.print(f"placement: {placed.cores} cores on {placed.chips} of {t.chips} chip(s) of {t.name} "
              f"({placed.cores_per_chip} cores each); {placed.inter_chip_synapses:,} synapses cross chips "
              "(exact count; docs/targets.md)",
              highlight=False)
    _table("projections (one-step delay each; weights signed 8-bit)",
           ("src", "dst", "kind", "weight shape", "range", "exp", "geometry"),
           ((q["src"], q["dst"], q["kind"], _shape(q["weight_shape"]), f"[{q['weight_min']}, {q['weight_max']}]",
             q["weight_exp"], f"stride {q['strides']} pads {q['pads']} groups {q['groups']}" if q["kind"] == "conv" else "")
            for q in info.projections))
    _notes(m.notes)


@cli.command()
@click.argument("artifact")
@click.option("--data", required=True, help=".npz with x")
@click.option("--samples", default=2, show_default=True, help="the first N samples of DATA")
@click.option("--timesteps", default=24, show_default=True, help="steps per sample")
@click.option("--backend", type=click.Choice(VERIFY_BACKENDS), default="lava-cpu", show_default=True,
              help="Lava's fixed_pt CPU models, or Loihi 2 through Lava's Loihi extension")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--trace", "trace_dir", help="save both traces (.npz) here")
@click.option("--timeout", default=600.0, show_default=True, help="seconds before a Lava run is stopped")
def verify(artifact, data, samples, timesteps, backend, as_json, trace_dir, timeout):
    """Check the Lava processes against the JAX reference, bit for bit (exit 1 on a divergence)."""
    from snnc import api

    result = api.verify(artifact, data, samples, timesteps, backend, trace_dir, timeout)
    c = result.comparison
    if as_json:
        click.echo(result.to_json())
    elif result.bit_exact:
        out.print(f"bit-exact: {c.total_compared} values (u, v, spikes of {len(c.populations)} populations, "
                  f"{result.samples} samples x {result.timesteps} steps) equal in jax and {backend} "
                  f"(jax {result.seconds['jax']:.2f} s, {backend} {result.seconds['lava']:.2f} s)", highlight=False)
    else:
        out.print(f"DIVERGED: first at {c.first.describe(backend)}; {c.total_differing} of {c.total_compared} "
                  "values differ", highlight=False)
    return 0 if result.bit_exact else 1


@cli.command()
@click.argument("artifact")
@click.option("--data", required=True, help=".npz with x and y")
@click.option("-o", "--output", required=True, help="folder for the plots and index.md")
@click.option("--timesteps", default="8,16,32,64", show_default=True, help="comma-separated T values")
@click.option("--samples", type=int, help="only the first N samples")
def report(artifact, data, output, timesteps, samples):
    """Plots (accuracy vs T, spikes and synops per layer, raster, weights) and an index.md."""
    from snnc import api

    index = api.report(artifact, data, output, _timesteps(timesteps), samples)
    out.print(f"wrote {index}", highlight=False)


@cli.command()
@click.argument("artifact")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="graphml", show_default=True)
@click.option("-o", "--output", required=True, help="file to write")
@click.option("--data", help="graphml: .npz with x, edges weighted by measured firing rates")
@click.option("--samples", default=64, show_default=True, help="graphml: samples of DATA the rates are measured on")
@click.option("--timesteps", default=64, show_default=True, help="graphml: steps per sample for the rates; netx: tSample")
def export(artifact, fmt, output, data, samples, timesteps):
    """Export the network: the synapse graph (GraphML), a NIR graph, or a lava-dl netx description."""
    from snnc import api

    result = api.export(artifact, output, fmt, data, samples, timesteps)
    _notes(result.notes, "note: ")
    out.print(f"wrote {result.path}", highlight=False)


def _finetune_option(name: str, **extra):
    """A click option for the FinetuneOptions field `name`."""
    field = FinetuneOptions.model_fields[name]
    kind = click.Choice(get_args(field.annotation)) if name == "loss" else field.annotation
    default = {} if field.is_required() else {"default": field.default, "show_default": True}
    return click.option(f"--{name.replace('_', '-')}", name, type=kind, required=field.is_required(), help=field.description,
                        **default, **extra)


@cli.command()
@click.argument("artifact")
@click.option("--data", required=True, help="training data (.npz with x and y)")
@_finetune_option("timesteps")
@_finetune_option("epochs")
@_finetune_option("loss")
@_finetune_option("learning_rate")
@_finetune_option("batch")
@click.option("--validation", help="held-out data (.npz with x and y): accuracy per epoch; the best epoch's network "
                                   "is kept (the parent's, if no epoch beats it)")
@click.option("-o", "--output", required=True, help="the fine-tuned artifact")
def finetune(artifact, data, validation, output, **options):
    """Fine-tune ARTIFACT's integer network with surrogate gradients (rate coding); verify-exact."""
    from snnc import api

    result = api.finetune(artifact, data, output=output, validation=validation, **options)
    _table(f"{artifact} -> {result.output}", ("epoch", "loss", "validation accuracy"),
           ((h.epoch, f"{h.loss:.4f}", "-" if h.validation_accuracy is None else f"{h.validation_accuracy:.4f}")
            for h in result.history))
    click.echo(f"kept the network of epoch {result.kept_epoch}" + (" (the parent's)" if result.kept_epoch == 0 else ""))


def _floats(value: str, word: str | None = None) -> tuple[float | None, ...]:
    """Comma-separated numbers; `word`, where given, stands for None."""
    try:
        return tuple(None if v.strip() == word else float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None


@cli.command()
@click.argument("model")
@click.option("--calibration", required=True, help="calibration data (.npz with x)")
@click.option("--data", required=True, help="evaluation data (.npz with x and y)")
@click.option("--codings", default="rate,sigma-delta,population,ttfs", show_default=True,
              help=f"comma-separated, of: {', '.join(choices('coding'))}")
@click.option("--timesteps", default="8,16,32,64", show_default=True, help="comma-separated T values")
@click.option("--percentile", "percentiles", default="search", show_default=True,
              help="comma-separated percentiles, or 'search' (compile's default: scales searched)")
@click.option("--max-rate", "max_rates", default="1.0", show_default=True, help="comma-separated (rate coding)")
@click.option("--samples", type=int, help="evaluate only the first N samples")
@click.option("--workers", type=int, help="worker processes (default: one per configuration, at most the CPUs)")
@click.option("--max-steps", type=int, help="best configuration: at most this T")
@click.option("--max-energy", type=float, help="best configuration: at most this energy estimate (uJ per inference)")
@click.option("-o", "--output", default="sweep", show_default=True, help="folder for sweep.json and pareto.png")
def sweep(model, calibration, data, codings, timesteps, percentiles, max_rates, samples, workers, max_steps, max_energy,
          output):
    """Compile MODEL over a grid of codings and options, evaluate each at every T, plot the trade-off."""
    from snnc import api

    result = api.sweep(model, calibration, data, output, tuple(c.strip() for c in codings.split(",") if c.strip()),
                       _timesteps(timesteps), _floats(percentiles, "search"), _floats(max_rates), samples, workers, max_steps,
                       max_energy)
    ann = result.points[0].ann_accuracy if result.points else 0.0
    _table(f"{model}: {len(result.points)} points (ANN {ann:.4f})",
           ("configuration", "T", "accuracy", "answer final at", "spikes", "synops", "energy uJ"),
           ((p.config.label, p.timesteps, f"{p.accuracy:.4f}", f"{p.answer_steps:.1f}", f"{p.spikes:.0f}",
             f"{p.synops:,.0f}", f"{p.energy_uj:.3g}")
            for p in result.points))
    _notes(result.refused, "refused: ")
    if result.best is not None:
        b = result.best
        out.print(f"best: {b.config.label} at T={b.timesteps}: {b.accuracy:.4f} ({b.synops:,.0f} synops, "
                  f"{b.energy_uj:.3g} uJ) -> {b.artifact}", highlight=False)
    out.print(f"wrote {Path(output) / 'sweep.json'} and {result.plot}", highlight=False)


def main(argv=None) -> int:
    enable_compilation_cache()
    try:
        rc = cli.main(args=argv, prog_name="snnc", standalone_mode=False)
    except OptionError as exc:
        click.echo(f"snnc: error: --{exc.param.replace('_', '-')}: {exc.message}", err=True)
        return 2
    except SnncError as exc:
        click.echo(f"snnc: error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("snnc: aborted", err=True)
        return 2
    except click.ClickException as exc:  # a usage error: one line, as every other error
        click.echo(f"snnc: error: {exc.format_message()}", err=True)
        return 2
    return rc if isinstance(rc, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
