"""Searched scales against the fixed 99.9th percentile, side by side (compiler/passes/search_scales.py).

For each model, each coding with levels is compiled twice with the same calibration data, once with
`--percentile 99.9` (the old default) and once with the default (each hidden layer's scale searched
for the least error at the coding's levels), and evaluated on the test data: rate coding at the
issue-13 T of its depth d (T1/T2/T3 = max(16, d+8) / max(32, d+24) / max(64, d+56), compiled for
each), population coding (8 neurons per value) at T = d+1, TTFS at T = 32 and 64 (compiled for each).
Accuracy in percent, with the ANN's. Models: the digits fixtures (tests/fixtures/tf2) and, where
benchmarks/model_suite.py has left them in out/suite, the suite's four.

    .venv/bin/python benchmarks/scale_search.py
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import DIGITS_MODELS, FIXTURES, write_digits  # noqa: E402

import snnc  # noqa: E402
from snnc.compiler.ir.spiking import path_depths  # noqa: E402
from snnc.runtime.artifact import load_artifact  # noqa: E402

SCALES = {"percentile 99.9": 99.9, "searched": None}


def depth(artifact: Path) -> int:
    net = load_artifact(artifact).spiking
    return path_depths(net)[net.output.name]


def rows(name: str, model: Path, cal: Path, test: Path, out: Path, maxpool: str) -> list[str]:
    """A table row per measured configuration (a model's compiles run in a process of their own: XLA
    maps memory for every compiled program, and a hundred compiles in one process exhaust the maps)."""
    probe = out / f"{name.replace(' ', '_')}_probe.snn"
    snnc.compile(model, calibration=cal, output=probe, maxpool=maxpool)
    d = depth(probe)
    configs = [(f"rate T={t}", "rate", t, {"timesteps_hint": t}) for t in (max(16, d + 8), max(32, d + 24), max(64, d + 56))]
    configs += [("population T=d+1", "population", None, {}), ("ttfs T=32", "ttfs", 32, {"timesteps_hint": 32}),
                ("ttfs T=64", "ttfs", 64, {"timesteps_hint": 64})]
    lines = []
    for label, coding, t, options in configs:
        measured, ann = {}, 0.0
        for scales, percentile in SCALES.items():
            artifact = out / f"{name.replace(' ', '_')}_{coding}_{t}_{percentile}.snn"
            try:
                snnc.compile(model, calibration=cal, output=artifact, coding=coding, maxpool=maxpool,
                             percentile=percentile, **options)
            except snnc.SnncError as exc:
                measured[scales] = f"refused ({str(exc)[:40]})"
                continue
            steps = t if t is not None else depth(artifact) + 1
            result = snnc.evaluate(artifact, test, (steps,))
            measured[scales], ann = f"{100 * result.results[0].accuracy:.2f}", 100 * result.ann_accuracy
        lines.append(f"| {name} | {ann:.2f} | {label} | " + " | ".join(measured.get(s, "-") for s in SCALES) + " |")
    return lines


def _rows(args) -> list[str]:
    return rows(*args)


def main() -> None:
    out = ROOT / "out" / "scale_search"
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    models = [(name, FIXTURES / f"{name}.h5", cal, test, maxpool) for name, maxpool in DIGITS_MODELS.items()]
    suite = ROOT / "out" / "suite"
    models += [(f"suite {name}", suite / f"{name}.keras", suite / "cal.npz", suite / "test.npz", "relu")
               for name in ("lenet", "resnet", "vgg", "mobilenet") if (suite / f"{name}.keras").exists()]
    print("| model | ANN | coding | " + " | ".join(SCALES) + " |")
    print("|---|---|---|" + "---|" * len(SCALES))
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for lines in pool.imap(_rows, [(name, model, c, t, out, maxpool) for name, model, c, t, maxpool in models]):
            print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
