"""`snnc verify` wall time on the digits models (target: 2 samples x 24 steps well under a minute),
and the per-step cost of Lava's CPU models beside the JAX reference, measured in one run."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import DIGITS_MODELS, FIXTURES, write_digits  # noqa: E402

import snnc  # noqa: E402


def main() -> None:
    out = Path("out/verify_speed")
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    print("| model | neurons | values compared | bit-exact | verify wall s | JAX s | Lava s | Lava s, 2 x 240 steps |")
    print("|---|---|---|---|---|---|---|---|")
    for name, maxpool in DIGITS_MODELS.items():
        artifact = out / f"{name}.snn"
        result = snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=artifact, maxpool=maxpool)
        start = time.perf_counter()
        short = snnc.verify(artifact, test, samples=2, timesteps=24)
        wall = time.perf_counter() - start
        long = snnc.verify(artifact, test, samples=2, timesteps=240)
        neurons = sum(p.size for p in result.network.populations)
        exact = short.bit_exact and long.bit_exact
        print(f"| {name} | {neurons} | {short.comparison.total_compared:,} | {exact} | {wall:.2f} | "
              f"{short.seconds['jax']:.2f} | {short.seconds['lava']:.2f} | {long.seconds['lava']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
