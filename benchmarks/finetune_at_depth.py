"""Fine-tuning at the issue-13 step count T = max(8, d + 4): the model suite's LeNet (T=8) and VGG
(T=13) from out/suite (run benchmarks/model_suite.py first), compiled for that T, evaluated, tuned
for EPOCHS epochs (Adam's default step) on the training digits, evaluated and verified against Lava (1 sample). Prints
accuracy before and after, seconds per epoch and the process's peak RSS.

    .venv/bin/python benchmarks/finetune_at_depth.py
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import digits  # noqa: E402

import snnc  # noqa: E402

EPOCHS = 10
SUITE = Path("out/suite")


def main() -> None:
    x_train, _, y_train, _ = digits()
    np.savez(SUITE / "train.npz", x=x_train, y=y_train)
    for name, t in (("lenet", 8), ("vgg", 13)):
        parent, tuned = SUITE / f"{name}_finetune_parent.snn", SUITE / f"{name}_finetuned.snn"
        snnc.compile(SUITE / f"{name}.keras", calibration=SUITE / "cal.npz", output=parent, timesteps_hint=t)
        before = snnc.evaluate(parent, SUITE / "test.npz", (t,))
        start = time.perf_counter()
        snnc.finetune(parent, SUITE / "train.npz", timesteps=t, output=tuned, epochs=EPOCHS)
        per_epoch = (time.perf_counter() - start) / EPOCHS
        after = snnc.evaluate(tuned, SUITE / "test.npz", (t,))
        exact = snnc.verify(tuned, SUITE / "test.npz", samples=1, timesteps=t).bit_exact
        print(f"{name} T={t}: ANN {100 * before.ann_accuracy:.2f}, before {100 * before.results[0].accuracy:.2f}, "
              f"after {100 * after.results[0].accuracy:.2f}; {per_epoch:.1f} s per epoch, peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB; tuned verify bit-exact: {exact}",
              flush=True)


if __name__ == "__main__":
    main()
