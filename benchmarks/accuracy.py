"""ANN vs SNN accuracy over timesteps on the digits fixtures: docs/accuracy.md and docs/accuracy.png."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import DIGITS_MODELS, FIXTURES, write_digits  # noqa: E402

import snnc  # noqa: E402

STEPS = (4, 8, 16, 32, 64, 128)


def main() -> None:
    out = Path("out/accuracy")
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    rows = ["| model | ANN | " + " | ".join(f"T={t}" for t in STEPS) + " |", "|---" * (len(STEPS) + 2) + "|"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, maxpool in DIGITS_MODELS.items():
        snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=out / f"{name}.snn", maxpool=maxpool)
        result = snnc.evaluate(out / f"{name}.snn", test, STEPS)
        acc = [100 * r.accuracy for r in result.results]
        rows.append(f"| {name} | {100 * result.ann_accuracy:.2f} | " + " | ".join(f"{a:.2f}" for a in acc) + " |")
        line, = ax.plot(STEPS, acc, marker="o", label=f"{name} SNN")
        ax.axhline(100 * result.ann_accuracy, color=line.get_color(), linestyle=":", linewidth=1)
        print(rows[-1], flush=True)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("timesteps T (Loihi steps)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(50, 100)
    ax.set_title("digits: integer SNN (loihi2, 8-bit weights) vs ANN (dotted)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    docs = Path(__file__).resolve().parents[1] / "docs"
    fig.savefig(docs / "accuracy.png", dpi=110)
    (docs / "accuracy.md").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
