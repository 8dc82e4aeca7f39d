"""Fine-tuning at the issue-13 step count T = max(8, d + 4): the model suite's LeNet (T=8) and VGG
(T=13) from out/suite (run benchmarks/model_suite.py first), as model_suite.finetuned does it
(compiled for that T, tuned for its epochs at Adam's default step on the training digits, verified
against Lava on 1 sample). Prints accuracy before and after, seconds per epoch and the process's
peak RSS.

    .venv/bin/python benchmarks/finetune_at_depth.py
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_suite import digits, finetuned  # noqa: E402

SUITE = Path("out/suite")


def main() -> None:
    x_train, _, y_train, _ = digits()
    np.savez(SUITE / "train.npz", x=x_train, y=y_train)
    for name, t in (("lenet", 8), ("vgg", 13)):
        run = finetuned(SUITE / f"{name}.keras", SUITE, name, t)
        print(f"{name} T={t}: ANN {100 * run.ann:.2f}, before {100 * run.before:.2f}, after {100 * run.after:.2f}; "
              f"{run.seconds_per_epoch:.1f} s per epoch, peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB; tuned verify bit-exact: {run.bit_exact}",
              flush=True)


if __name__ == "__main__":
    main()
