"""`snnc sweep`: compile a model over a grid of codings and options, evaluate each artifact at every
T, and show the trade-off between accuracy, latency (steps run) and energy (synaptic operations and
the energy estimate per inference). Compiles run in parallel worker processes (spawned: JAX is not
fork-safe); each point is one evaluate at one T, so its counts are that T's."""

from __future__ import annotations

import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from snnc.runtime.outputs import check_output, check_output_dir, write_atomically
from snnc.runtime.progress import progress


class SweepConfig(BaseModel):
    model_config = ConfigDict(frozen=True)
    coding: str
    percentile: float | None  # None: compile's default (scales searched, compiler/passes/search_scales.py)
    max_rate: float | None  # rate coding only

    @property
    def label(self) -> str:
        rate = f", max rate {self.max_rate:g}" if self.max_rate is not None else ""
        scales = "searched scales" if self.percentile is None else f"percentile {self.percentile:g}"
        return f"{self.coding}, {scales}{rate}"


class SweepPoint(BaseModel):
    model_config = ConfigDict(frozen=True)
    config: SweepConfig
    timesteps: int
    accuracy: float
    ann_accuracy: float
    answer_steps: float  # mean step from which each sample's answer is final within T (evaluate's latency)
    spikes: float  # per inference
    synops: float  # per inference: every spike (graded message) times the synapses it reaches
    energy_uj: float  # the estimate per inference (runtime/counts.py)
    artifact: str


class SweepResult(BaseModel):
    points: tuple[SweepPoint, ...]
    refused: tuple[str, ...]  # configurations that did not compile, each with its reason
    best: SweepPoint | None  # the most accurate point within the limits (fewer steps, then synops, on ties)
    max_steps: int | None
    max_energy_uj: float | None
    plot: str

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def grid(codings, percentiles, max_rates) -> list[SweepConfig]:
    """Every combination; the max rate varies only for the rate coding (the others ignore it)."""
    configs = []
    for coding, percentile in itertools.product(codings, percentiles):
        for rate in (max_rates if coding == "rate" else (None,)):
            configs.append(SweepConfig(coding=coding, percentile=percentile, max_rate=rate))
    return configs


def _run(model: str, calibration: str, data: str, config: SweepConfig, timesteps: tuple[int, ...], artifact: str,
         limit: int | None) -> tuple[list[dict], list[str]]:
    """In a worker: compile one configuration, evaluate it at each T (counts are per T). A coding
    tuned to the T it is compiled for (rate calibrates for it, TTFS fits its windows into it) is
    compiled once per T (artifact_T<T>.snn). A compile the compiler refuses is returned as its
    reason, not raised."""
    import snnc
    from snnc.compiler.codings import TUNED_TO_TIMESTEPS
    from snnc.runtime.compilation_cache import enable_compilation_cache

    enable_compilation_cache()
    options = {"max_rate": config.max_rate} if config.max_rate is not None else {}
    per_t = config.coding in TUNED_TO_TIMESTEPS
    points, refused = [], []
    for i, t in enumerate(timesteps):
        path = f"{artifact.removesuffix('.snn')}_T{t}.snn" if per_t else artifact
        if per_t or i == 0:
            try:
                snnc.compile(model, calibration=calibration, output=path, coding=config.coding,
                             percentile=config.percentile, **options, **({"timesteps_hint": t} if per_t else {}))
            except snnc.SnncError as exc:
                refused.append(f"{config.label}{f' at T={t}' if per_t else ''}: {exc}")
                if per_t:
                    continue
                return points, refused
        result = snnc.evaluate(path, data, (t,), limit)
        points.append(dict(config=config, timesteps=t, accuracy=result.results[0].accuracy,
                           ann_accuracy=result.ann_accuracy, answer_steps=result.latency.mean_steps,
                           spikes=result.energy.spikes, synops=result.synops, energy_uj=result.energy.snn_uj,
                           artifact=path))
    return points, refused


def best_point(points, max_steps: int | None, max_energy_uj: float | None) -> SweepPoint | None:
    allowed = [p for p in points if (max_steps is None or p.timesteps <= max_steps)
               and (max_energy_uj is None or p.energy_uj <= max_energy_uj)]
    return min(allowed, key=lambda p: (-p.accuracy, p.timesteps, p.synops), default=None)


def pareto(points, cost) -> list:
    """The points no other point beats on both accuracy and the cost."""
    ordered = sorted(points, key=lambda p: (cost(p), -p.accuracy))
    front, best = [], -1.0
    for p in ordered:
        if p.accuracy > best:
            front.append(p)
            best = p.accuracy
    return front


def plot(points, best: SweepPoint | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, cost, label in ((axes[0], lambda p: p.timesteps, "steps to the answer (T)"),
                            (axes[1], lambda p: p.synops, "synaptic operations per inference")):
        for coding in sorted({p.config.coding for p in points}):
            mine = [p for p in points if p.config.coding == coding]
            ax.scatter([cost(p) for p in mine], [100 * p.accuracy for p in mine], label=coding, alpha=0.7)
        front = pareto(points, cost)
        ax.plot([cost(p) for p in front], [100 * p.accuracy for p in front], "k--", lw=1, label="Pareto front")
        if best is not None:
            ax.scatter([cost(best)], [100 * best.accuracy], marker="*", s=250, c="gold", edgecolors="k", label="best")
        ax.axhline(100 * points[0].ann_accuracy, color="gray", lw=0.8, label="ANN")
        ax.set_xscale("log")
        ax.set_xlabel(label)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with write_atomically(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def sweep(model: Path, calibration: Path, data: Path, output: Path, configs: list[SweepConfig],
          timesteps: tuple[int, ...], limit: int | None, workers: int, max_steps: int | None,
          max_energy_uj: float | None) -> SweepResult:
    output = check_output_dir(output, [model, calibration, data])
    output.mkdir(parents=True, exist_ok=True)
    artifacts = [check_output(output / f"{i:02d}_{c.coding}.snn", [model, calibration, data]) for i, c in enumerate(configs)]
    points, refused = [], []
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool, \
            progress("sweeping", len(configs)) as advance:
        futures = [pool.submit(_run, str(model), str(calibration), str(data), c, timesteps, str(a), limit)
                   for c, a in zip(configs, artifacts)]
        for future in as_completed(futures):
            done, reasons = future.result()
            points += [SweepPoint(**p) for p in done]
            refused += reasons
            advance(1)
    points.sort(key=lambda p: (configs.index(p.config), p.timesteps))
    best = best_point(points, max_steps, max_energy_uj)
    if points:
        plot(points, best, output / "pareto.png")
    result = SweepResult(points=tuple(points), refused=tuple(refused), best=best, max_steps=max_steps, max_energy_uj=max_energy_uj,
                         plot=str(output / "pareto.png"))
    with write_atomically(output / "sweep.json") as tmp:
        tmp.write_text(result.to_json())
    return result
