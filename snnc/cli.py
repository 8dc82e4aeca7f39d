"""`snnc` command line: thin wrappers over snnc.api. Exit 0 ok, 1 a check failed, 2 bad input."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from snnc.compiler.options import CompileOptions, OptionError, choices  # noqa: E402
from snnc.errors import SnncError  # noqa: E402
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


def _notes(notes, prefix: str = "- ") -> None:
    for note in notes:
        out.print(f"{prefix}{note}", highlight=False)


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _option(name: str, **extra):
    """A click option for the CompileOptions field `name`: its flag, default, help and choices."""
    field = CompileOptions.model_fields[name]
    kind = {"neuron": click.Choice(choices("neuron")), "maxpool": click.Choice(choices("maxpool"))}.get(name, field.annotation)
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
@click.option("--calibration", help="calibration data (.npz with x) for threshold balancing")
@_option("neuron")
@_option("maxpool")
@_option("percentile")
@_option("max_rate")
@_option("timesteps_hint")
@click.option("-o", "--output", help="output artifact (default: MODEL with .snn)")
def compile_command(model, target, calibration, output, **options):
    """Compile MODEL (.h5 / .keras) into a .snn artifact."""
    from snnc import api

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
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def evaluate(artifact, data, timesteps, samples, as_json):
    """Accuracy of the integer SNN (JAX reference simulator) per T, beside the ANN."""
    from snnc import api

    result = api.evaluate(artifact, data, _timesteps(timesteps), limit=samples)
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
    m = info.manifest
    out.print(f"[bold]{artifact}[/bold]  format {m.format}, target {m.target}")
    out.print(f"source {m.source_model.file} sha256 {m.source_model.sha256[:16]}...", highlight=False)
    if m.calibration:
        c = m.calibration
        out.print(f"calibration {c.file} ({c.samples} samples) sha256 {c.sha256[:16]}...", highlight=False)
    out.print("versions " + ", ".join(f"{k} {v}" for k, v in m.versions.items()), highlight=False)
    out.print("options " + ", ".join(f"{k}={v}" for k, v in m.options.model_dump().items()), highlight=False)
    usage = {u["population"]: u for u in info.resources.populations}
    host = {"synapses": "-", "cores": "host"}
    _table("populations (" + "; ".join(info.summaries.values()) + ")",
           ("population", "layer", "role", "shape", "neurons", "vth", "exp", "scale", "synapses", "cores"),
           ((r.population, r.layer, r.role, _shape(r.shape), r.neurons, r.vth, r.exponent, f"{m.scales[r.population]:.4g}",
             usage.get(r.population, host)["synapses"], usage.get(r.population, host)["cores"]) for r in info.layers))
    r = info.resources
    out.print(f"resources (estimate): {r.cores} cores on {r.chips} chip(s) of {m.target}", highlight=False)
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
        out.print(f"bit-exact: {c.total_compared} values (u, v, spikes of {len(c.compared)} populations, "
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


def main(argv=None) -> int:
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
