"""JAX reference simulator speed vs the same Keras ANN, side by side in one run.

SNN: samples x timesteps per second of the jit-compiled integer simulator (readout at T).
ANN: T forward passes of the Keras model (JAX backend, jit-compiled predict_on_batch) on the same batch.
Ratio = SNN time / ANN time for the same samples and T (target: within 3x).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import FIXTURES, write_digits  # noqa: E402

import snnc  # noqa: E402
from snnc.backends.jax.simulator import readout  # noqa: E402
from snnc.compiler.frontend.model_file import load_keras_model  # noqa: E402
from snnc.runtime.artifact import load_artifact  # noqa: E402
from snnc.targets import LOIHI2  # noqa: E402


def best_of(fn, repeats=5):
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    out = Path("out/bench")
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    x = np.load(test)["x"]
    x = np.concatenate([x] * 3)[:1024]
    steps = 64
    print(f"batch {len(x)} samples, T={steps}, {os.cpu_count()} CPUs")
    print(f"{'model':10s} {'SNN samples*steps/s':>20s} {'SNN s':>8s} {'ANN x T s':>10s} {'ratio':>6s}")
    for name in ("lenet", "resnet", "mlp", "depthwise"):
        snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=out / f"{name}.snn")
        net = load_artifact(out / f"{name}.snn").spiking
        bias = net.encode(x)
        snn_time = best_of(lambda: readout(net, LOIHI2, bias, (steps,)))
        model = load_keras_model(FIXTURES / f"{name}.h5")
        ann_time = best_of(lambda: [np.asarray(model.predict_on_batch(x)) for _ in range(steps)])
        print(f"{name:10s} {len(x) * steps / snn_time:20.0f} {snn_time:8.3f} {ann_time:10.3f} {snn_time / ann_time:6.2f}")


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    main()
