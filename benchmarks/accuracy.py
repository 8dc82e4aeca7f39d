"""ANN vs SNN accuracy over timesteps on the digits fixtures, for rate coding (with both resets) and
sigma-delta, beside an SNN Toolbox-style float soft-reset baseline; spikes per sample. Writes docs/accuracy.md and
docs/accuracy.png. Run: .venv/bin/python benchmarks/accuracy.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import DIGITS_MODELS, FIXTURES, write_digits  # noqa: E402
from soft_reset_baseline import soft_reset_predictions  # noqa: E402

import snnc  # noqa: E402
from snnc.backends.jax.simulator import spike_counts  # noqa: E402
from snnc.runtime.artifact import load_artifact  # noqa: E402

STEPS = (4, 8, 16, 32, 64, 128)
SPIKE_T = 32  # spikes (sigma-delta: graded messages) per sample are counted over this many steps
MODES = {"rate": ({}, "snnc rate (reset by subtraction)"), "rate_zero": ({"reset": "zero"}, "snnc rate, --reset zero"),
         "sigma-delta": ({"coding": "sigma-delta"}, "snnc sigma-delta")}


def spikes_per_sample(artifact: Path, x: np.ndarray) -> float:
    art = load_artifact(artifact)
    counts = spike_counts(art.spiking, art.target, art.spiking.encode(x), SPIKE_T)
    return sum(counts.values()) / len(x)


def main() -> None:
    out = Path("out/accuracy")
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    with np.load(test) as data:
        x, y = data["x"], data["y"]
    header = "| model | mode | " + " | ".join(f"T={t}" for t in STEPS) + f" | spikes/sample (T={SPIKE_T}) |"
    rows = [header, "|---" * (len(STEPS) + 3) + "|"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharex=True)
    for ax, (name, maxpool) in zip(axes.flat, DIGITS_MODELS.items()):
        ann = None
        for mode, (options, label) in MODES.items():
            artifact = out / f"{name}_{mode}.snn"
            snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=artifact, maxpool=maxpool, **options)
            result = snnc.evaluate(artifact, test, STEPS)
            ann = 100 * result.ann_accuracy
            acc = [100 * r.accuracy for r in result.results]
            rows.append(f"| {name} | {label} | " + " | ".join(f"{a:.2f}" for a in acc)
                        + f" | {spikes_per_sample(artifact, x):.0f} |")
            ax.plot(STEPS, acc, marker="o", label=label)
            print(rows[-1], flush=True)
        art = load_artifact(out / f"{name}_rate.snn")
        predicted = soft_reset_predictions(art.float_net, art.manifest.scales, x, STEPS)
        baseline = [100 * float((predicted[t] == y).mean()) for t in STEPS]
        rows.append(f"| {name} | float soft-reset baseline | " + " | ".join(f"{a:.2f}" for a in baseline) + " | |")
        rows.append(f"| {name} | ANN | " + " | ".join(f"{ann:.2f}" for _ in STEPS) + " | |")
        print(rows[-2], flush=True)
        ax.plot(STEPS, baseline, marker="s", linestyle="--", label="float soft-reset (SNN Toolbox-style)")
        ax.axhline(ann, color="black", linestyle=":", linewidth=1, label="ANN")
        ax.set_title(name + (" (--maxpool avg)" if maxpool == "avg" else ""))
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("timesteps T (Loihi steps)")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles, labels, loc="center")
    fig.suptitle("digits: integer SNN on Loihi 2 neurons (8-bit weights, exactly as verified against Lava)")
    fig.tight_layout()
    docs = Path(__file__).resolve().parents[1] / "docs"
    fig.savefig(docs / "accuracy.png", dpi=100)
    (docs / "accuracy.md").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
