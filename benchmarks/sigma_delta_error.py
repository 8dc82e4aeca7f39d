"""Sigma-delta quantization, step by step: how far each compiled network's output is from the ANN's.

For each model, three compiles with the same calibration data, each adding one step of
compiler/passes/quantize_sigma_delta.py and equalize_channels.py to the one before:
  bits       sigma's 24 bits shared out between layers (the smallest peak weight maximized)
  +bias      each bias corrected for its weights' mean rounding error
  +equalize  cross-layer equalization of channel ranges first (the default compile)
and, on the test data at T = depth + 1 (when a sigma-delta network's answer is final): the
output's error against the ANN's (RMS, in percent of the ANN output's standard deviation, the
output's integer scale fitted by least squares), the agreement of the classes with the ANN's, and
the accuracy gap to the ANN (points). Models: the digits fixtures (tests/fixtures/tf2) and, where
benchmarks/model_suite.py has left them in out/suite, the suite's four.

    .venv/bin/python benchmarks/sigma_delta_error.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import FIXTURES, write_digits  # noqa: E402

from snnc.backends.jax.simulator import readout  # noqa: E402
from snnc.compiler.codings import Coding, coding_for  # noqa: E402
from snnc.compiler.frontend.keras import load_model_graph  # noqa: E402
from snnc.compiler.ir.spiking import path_depths  # noqa: E402
from snnc.compiler.options import CompileOptions  # noqa: E402
from snnc.compiler.passes.balance_thresholds import Calibration  # noqa: E402
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding, quantize_sigma_delta  # noqa: E402
from snnc.compiler.pipeline import compile_graph  # noqa: E402
from snnc.targets import LOIHI2  # noqa: E402

STEPS = {
    "bits": Coding(lambda net, target, stats: quantize_sigma_delta(net, target, stats.scales, SigmaDeltaCoding(),
                                                                   stats.sums), None),
    "+bias": Coding(lambda net, target, stats: quantize_sigma_delta(net, target, stats.scales, SigmaDeltaCoding(),
                                                                    stats.sums, stats.means), None),
    "+equalize": coding_for(CompileOptions.checked(coding="sigma-delta")),  # the default compile's
}


def errors(model: Path, cal: Path, test: Path) -> dict[str, tuple[float, float, float]]:
    graph = load_model_graph(model)
    x_cal = np.load(cal)["x"]
    calibration = Calibration(lambda: iter([x_cal[i:i + 256] for i in range(0, len(x_cal), 256)]))
    data = np.load(test)
    x, y = data["x"].astype(np.float32), data["y"]
    rows = {}
    for step, coding in STEPS.items():
        compiled = compile_graph(graph, LOIHI2, calibration, coding)
        net, float_net = compiled.spiking, compiled.float_net
        ann = np.asarray(float_net.forward(x)[float_net.populations[-1].name], np.float64).reshape(len(x), -1)
        steps = max(path_depths(net).values()) + 1
        out = readout(net, LOIHI2, net.encode(x), (steps,))[steps].reshape(len(x), -1).astype(np.float64)
        gain = (out * ann).sum() / (ann * ann).sum()
        rms = 100 * np.sqrt(((out / gain - ann) ** 2).mean()) / ann.std()
        agree = 100 * (out.argmax(1) == ann.argmax(1)).mean()
        gap = 100 * ((ann.argmax(1) == y).mean() - (out.argmax(1) == y).mean())
        rows[step] = (rms, agree, gap)
    return rows


def main() -> None:
    out = ROOT / "out" / "sigma_delta_error"
    out.mkdir(parents=True, exist_ok=True)
    cal, test = write_digits(out)
    models = [(name, FIXTURES / f"{name}.h5", cal, test) for name in ("lenet", "mlp", "resnet", "depthwise", "maxpool")]
    suite = ROOT / "out" / "suite"
    models += [(f"suite {name}", suite / f"{name}.keras", suite / "cal.npz", suite / "test.npz")
               for name in ("lenet", "resnet", "vgg", "mobilenet") if (suite / f"{name}.keras").exists()]
    print("| model | " + " | ".join(f"{s}: error %, agree %, gap" for s in STEPS) + " |")
    print("|---|" + "---|" * len(STEPS))
    means = {s: [] for s in STEPS}
    for name, model, c, t in models:
        rows = errors(model, c, t)
        for s, (rms, _, _) in rows.items():
            means[s].append(rms)
        print(f"| {name} | " + " | ".join(f"{rms:.2f}, {agree:.2f}, {gap:+.2f}" for rms, agree, gap in rows.values())
              + " |", flush=True)
    print("| mean error | " + " | ".join(f"{np.mean(v):.2f}" for v in means.values()) + " |")


if __name__ == "__main__":
    main()
