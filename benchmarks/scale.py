"""Scale: compile, simulate and evaluate a LeNet-5 (28x28x1), a ResNet-20 and a VGG-16 (32x32x3),
measured side by side in one run; and the layer-wise threshold calibration against the
whole-network one it replaced (issue 12).

Models are built with Keras (JAX backend) and trained for one short epoch on generated data
(class-dependent low-frequency patterns plus pixel noise, fixed seeds); out/scale/ keeps the .keras
files and the data (--retrain builds them again).

For each model and coding (rate LIF, sigma-delta):
  compile   `snnc.compile` in a fresh subprocess: wall seconds of the call (the calibration pass
            timed inside it), the child's peak RSS (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss,
            read in a small wrapper process, see WRAPPER), or the one-line refusal. The target is loihi2 (--chips 64 where
            CompileOptions has the field); a network it refuses is compiled again for a JSON target
            file that lifts the refused limits, to measure the compile itself (marked "lifted").
  simulate  the JAX simulator's readout for B samples x T=32 vs 32 Keras forward passes of the
            model on the same batch (jit-compiled predict_on_batch), timed after a warm-up run.
  evaluate  `snnc evaluate` at T=32 on the test set: wall seconds (including jit compilation) and
            samples/s, with the SNN's and the ANN's accuracy.
Calibration, old vs new: the whole-network pass (its last committed version, from git, imported
from a temporary file) and the current one, in this process, on the digits LeNet and ResNet
fixtures and the LeNet-5: calibration seconds (first call, with jit compilation; then a second
call) and accuracy at T=16/32/64; on the ResNet-20 the new pass on its budget, on all samples, and
no calibration. For the larger models the old pass's cost is estimated from one measured
whole-network count simulation.

Run: .venv/bin/python benchmarks/scale.py [--models lenet5,resnet20,vgg16] [--retrain]
     [--skip-old | --calibration-only]
Prints markdown tables and writes them to out/scale/scale.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import FIXTURES, write_digits  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from simulator_speed import best_of  # noqa: E402

import snnc  # noqa: E402
import snnc.compiler.codings as codings  # noqa: E402
from snnc.backends.jax.simulator import readout, spike_counts  # noqa: E402
from snnc.compiler.frontend.model_file import load_keras_model  # noqa: E402
from snnc.compiler.options import CompileOptions  # noqa: E402
from snnc.errors import SnncError  # noqa: E402
from snnc.runtime.artifact import load_artifact  # noqa: E402

OUT = ROOT / "out" / "scale"
CLASSES = 10
TRAIN, CAL, TEST = 4096, 256, 128  # generated samples: one epoch of 128 steps of 32
LEARNING_RATE = {"lenet5": 1e-3, "resnet20": 1e-4, "vgg16": 1e-4}  # Adam; 1e-3 leaves VGG-16's BN statistics behind
SIM_BATCH, SIM_T, REPEATS = 32, 32, 1
# (samples simulated, samples evaluated) where the defaults would take most of an hour: sigma-delta's
# graded payloads need int32 convolutions, which XLA runs on CPU without its fast float kernels
SMALLER = {("vgg16", "sigma-delta"): (4, 8)}
CHIPS = 64
CODINGS = ("lif", "sigma-delta")
SHAPES = {"lenet5": (28, 28, 1), "resnet20": (32, 32, 3), "vgg16": (32, 32, 3)}
LIFTED = dict(max_fan_in=1 << 16, chips=1024)  # the lifted target: fan-in and chip count out of the way


# ---- models -------------------------------------------------------------------------------------

def lenet5() -> keras.Model:
    x = inputs = keras.Input(SHAPES["lenet5"])
    x = keras.layers.Conv2D(6, 5, padding="same", activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Conv2D(16, 5, activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(120, activation="relu")(x)
    x = keras.layers.Dense(84, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(x), name="lenet5")


def _conv_bn(x, filters: int, stride: int = 1, kernel: int = 3, relu: bool = True):
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)  # moving statistics settle within one short epoch
    return keras.layers.ReLU()(x) if relu else x


def resnet20() -> keras.Model:
    """3 stages of 3 basic blocks (16/32/64 channels); 1x1 conv + BN shortcuts where the shape changes."""
    x = inputs = keras.Input(SHAPES["resnet20"])
    x = _conv_bn(x, 16)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(_conv_bn(x, filters, stride), filters, relu=False)
            shortcut = x if stride == 1 else _conv_bn(x, filters, stride, kernel=1, relu=False)
            x = keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(x), name="resnet20")


def vgg16() -> keras.Model:
    """13 conv + BN + ReLU, average pooling in place of max pooling, 3 dense."""
    x = inputs = keras.Input(SHAPES["vgg16"])
    for stage in (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P"):
        x = keras.layers.AveragePooling2D(2)(x) if stage == "P" else _conv_bn(x, stage)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(x), name="vgg16")


BUILDERS = {"lenet5": lenet5, "resnet20": resnet20, "vgg16": vgg16}


def patterns(shape: tuple[int, ...], count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class c: a fixed 4x4 pattern (seed 0) upsampled to the image, half of each pixel, plus uniform noise."""
    low = np.random.default_rng(0).uniform(0, 1, (CLASSES, 4, 4, shape[2]))
    templates = np.kron(low, np.ones((1, shape[0] // 4, shape[1] // 4, 1)))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, count)
    x = 0.5 * templates[y] + 0.5 * rng.uniform(0, 1, (count, *shape))
    return x.astype(np.float32), y


def prepare(name: str, retrain: bool) -> tuple[Path, Path, Path]:
    """The trained model file and its calibration and test data files."""
    shape = SHAPES[name]
    tag = "x".join(map(str, shape))
    cal, test = OUT / f"cal_{tag}.npz", OUT / f"test_{tag}.npz"
    if retrain or not cal.exists():
        np.savez(cal, x=patterns(shape, CAL, 2)[0])
        x, y = patterns(shape, TEST, 3)
        np.savez(test, x=x, y=y)
    path = OUT / f"{name}.keras"
    if retrain or not path.exists():
        keras.utils.set_random_seed(0)
        model = BUILDERS[name]()
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE[name]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        x, y = patterns(shape, TRAIN, 1)
        start = time.perf_counter()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        print(f"trained {name} ({model.count_params():,} parameters) in {time.perf_counter() - start:.0f} s", flush=True)
        model.save(path)
    return path, cal, test


# ---- compile in a child process -------------------------------------------------------------------

def _coding_option(coding: str) -> dict:
    if "coding" in CompileOptions.model_fields:
        return {"coding": {"lif": "rate"}.get(coding, coding)}
    return {"neuron": coding}


def lifted_target_file() -> Path | None:
    """A JSON target: Loihi 2 with the limits in LIFTED lifted, or None where this snnc reads none."""
    import snnc.targets as targets

    if not hasattr(targets, "target_file"):
        return None
    path = OUT / "loihi2-lifted.json"
    path.write_text(targets.LOIHI2.model_copy(update=dict(name="loihi2-lifted", description="Loihi 2, limits lifted "
                                                            "(benchmark only)", **LIFTED)).model_dump_json())
    return path


def timed(function, took: list):
    """function, appending the seconds of each call to `took`."""
    def wrapped(*args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        took.append(time.perf_counter() - start)
        return result
    return wrapped


def child_compile(model: str, cal: str, output: str, coding: str, target: str, chips: str) -> None:
    """In the child: one snnc.compile, timed, the calibration pass timed inside it; one JSON line."""
    took = []
    codings.calibrate_thresholds = timed(codings.calibrate_thresholds, took)
    codings.calibrate_biases = timed(codings.calibrate_biases, took)
    options = _coding_option(coding) | ({"chips": int(chips)} if chips != "-" else {})
    start = time.perf_counter()
    try:
        snnc.compile(model, target=target, calibration=cal, output=output, **options)
        report = {"ok": True}
    except SnncError as exc:
        report = {"ok": False, "refusal": str(exc)}
    report.update(seconds=time.perf_counter() - start, calibrate_seconds=sum(took) if took else None)
    print("RESULT " + json.dumps(report), flush=True)


# A small interpreter between this process and the compile: on Linux a child's ru_maxrss keeps the
# high-water mark of the memory it had before exec (a copy of its parent's), so the compile is
# started from this wrapper (a few MB) and its peak read there with RUSAGE_CHILDREN.
WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); sys.exit(code)")


def compile_in_child(model: Path, cal: Path, output: Path, coding: str, target: str, chips: int | None) -> dict:
    """Run child_compile in a fresh interpreter; its peak RSS (RUSAGE_CHILDREN of the wrapper)."""
    command = [sys.executable, "-c", WRAPPER, sys.executable, __file__, "--child-compile", str(model), str(cal),
               str(output), coding, target, str(chips) if chips else "-"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = done.stdout.splitlines()
    results = [line[7:] for line in lines if line.startswith("RESULT ")]
    peaks = [int(line.split()[1]) for line in lines if line.startswith("PEAK_RSS_KB ")]
    if not results or not peaks:
        raise RuntimeError(f"compile child failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return json.loads(results[-1]) | {"peak_rss_mb": peaks[-1] / 1024, "process_seconds": wall}


# ---- simulate and evaluate ------------------------------------------------------------------------

def simulate_vs_keras(artifact: Path, model_file: Path, x: np.ndarray) -> tuple[float, float]:
    art = load_artifact(artifact)
    drive = art.spiking.encode(x)
    snn = best_of(lambda: readout(art.spiking, art.target, drive, (SIM_T,)), REPEATS)
    model = load_keras_model(model_file)
    ann = best_of(lambda: [np.asarray(model.predict_on_batch(x)) for _ in range(SIM_T)], REPEATS)
    return snn, ann


def whole_network_simulation_seconds(artifact: Path, x: np.ndarray, steps: int) -> float:
    """One whole-network count simulation (what the old pass ran ROUNDS times per population)."""
    art = load_artifact(artifact)
    drive = art.spiking.encode(x)
    return best_of(lambda: spike_counts(art.spiking, art.target, drive, steps), repeats=1)


# ---- old vs new calibration -----------------------------------------------------------------------

def old_pass():
    """The whole-network pass the layer-wise one replaced: the newest committed version of
    compiler/passes/calibrate_thresholds.py that simulated the whole network for every trial
    threshold (it calls spike_counts), imported from a temporary file."""
    path = "compiler/passes/calibrate_thresholds.py"
    git = lambda *args: subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout  # noqa: E731
    source = next(text for text in (git("show", f"{rev}:{path}") for rev in git("log", "--format=%H", "--", path).split())
                  if "spike_counts(" in text)
    file = Path(tempfile.mkdtemp()) / "calibrate_thresholds_whole_network.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location("calibrate_thresholds_whole_network", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calibrate_side_by_side(label: str, model: Path, cal: Path, test: Path, passes: dict, runs: int = 2,
                           **options) -> list[str]:
    rows, first = [], None
    for name, calibrate in passes.items():
        took = []
        codings.calibrate_thresholds = timed(calibrate, took)
        artifact = OUT / f"{model.stem}_{name.replace(' ', '_').replace(',', '')}_calibration.snn"
        try:
            for _ in range(runs):
                snnc.compile(model, calibration=cal, output=artifact, reset="zero", **options)
        finally:
            codings.calibrate_thresholds = passes["new"]
        result = snnc.evaluate(artifact, test, timesteps=(16, 32, 64))
        acc = " | ".join(f"{100 * r.accuracy:.2f}" for r in result.results)
        seconds = " / ".join(f"{t:.2f}" for t in took) if name != "none" else "-"
        thresholds = load_artifact(artifact).manifest.thresholds
        first = first or thresholds
        same = "-" if thresholds is first else ("yes" if thresholds == first else "no")
        rows.append(f"| {label} | {name} | {seconds} | {same} | {acc} | {100 * result.ann_accuracy:.2f} |")
        print(rows[-1], flush=True)
    return rows


def all_samples(*args, **kwargs):
    """The new pass without its routing budget: every one of its SAMPLES calibration samples."""
    import snnc.compiler.passes.calibrate_thresholds as calibrate
    import snnc.compiler.passes.replay as replay

    budget, replay.ROUTE_MACS = replay.ROUTE_MACS, 1 << 62
    try:
        return calibrate.calibrate_thresholds(*args, **kwargs)
    finally:
        replay.ROUTE_MACS = budget


def no_calibration(net, *args, **kwargs):
    return net, ["thresholds not calibrated (benchmark baseline)"]


# ---- main ---------------------------------------------------------------------------------------

def main(models: list[str], retrain: bool, skip_old: bool, calibration_only: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    chips = CHIPS if "chips" in CompileOptions.model_fields else None
    lifted = lifted_target_file()
    print(f"{os.cpu_count()} CPUs; target loihi2{f' --chips {chips}' if chips else ''}; "
          f"lifted target {'available' if lifted else 'unavailable (no JSON targets)'}", flush=True)
    compile_rows = ["| model | coding | target | compile s | calibration s | peak RSS MB | result |", "|---" * 7 + "|"]
    sim_rows = [f"| model | coding | target | samples | SNN samples x T={SIM_T} s | Keras {SIM_T} passes s | ratio "
                f"| evaluate samples | evaluate s (T={SIM_T}) | samples/s | SNN acc | ANN acc |", "|---" * 12 + "|"]
    refusals, artifacts = [], {}
    for name in [] if calibration_only else models:
        model, cal, test = prepare(name, retrain)
        for coding in CODINGS:
            artifact = OUT / f"{name}_{coding}.snn"
            result = compile_in_child(model, cal, artifact, coding, "loihi2", chips)
            target = f"loihi2{f' x{chips}' if chips else ''}"
            if not result["ok"]:
                refusals.append(f"- {name} ({coding}, {target}): {result['refusal']}")
                compile_rows.append(_compile_row(name, coding, target, result))
                print(compile_rows[-1], flush=True)
                if lifted is None:
                    continue
                target = "lifted"
                result = compile_in_child(model, cal, artifact, coding, str(lifted), None)
            compile_rows.append(_compile_row(name, coding, target, result))
            print(compile_rows[-1], flush=True)
            if not result["ok"]:
                continue
            artifacts[name, coding] = artifact
            batch, samples = SMALLER.get((name, coding), (SIM_BATCH, TEST))
            snn, ann = simulate_vs_keras(artifact, model, np.load(test)["x"][:batch])
            start = time.perf_counter()
            evaluated = snnc.evaluate(artifact, test, timesteps=(SIM_T,), limit=samples)
            wall = time.perf_counter() - start
            sim_rows.append(f"| {name} | {coding} | {target} | {batch} | {snn:.2f} | {ann:.2f} | {snn / ann:.2f} | "
                            f"{evaluated.samples} | {wall:.1f} | "
                            f"{evaluated.samples / wall:.1f} | {100 * evaluated.results[0].accuracy:.2f} | "
                            f"{100 * evaluated.ann_accuracy:.2f} |")
            print(sim_rows[-1], flush=True)
    calib_rows = ["| model | pass | calibration s (1st / 2nd call) | thresholds as the first row's | T=16 | T=32 | T=64 "
                  "| ANN |", "|---" * 8 + "|"]
    estimate_rows = ["| model | hidden populations | one whole-network simulation s (256 x T=64, from 16) | old pass, estimated s "
                     "(x 3 rounds x populations) | new pass s |", "|---" * 5 + "|"]
    if not skip_old:
        passes = {"old": old_pass().calibrate_thresholds, "new": codings.calibrate_thresholds}
        digits_cal, digits_test = write_digits(OUT)
        for name in ("lenet", "resnet"):
            calib_rows += calibrate_side_by_side(f"digits {name}", FIXTURES / f"{name}.h5", digits_cal, digits_test, passes)
        if "lenet5" in models:
            model, cal, test = prepare("lenet5", False)
            calib_rows += calibrate_side_by_side("LeNet-5 28x28", model, cal, test, passes)
        if "resnet20" in models:  # too slow for the old pass: the new one on its budget, on all samples, and none
            model, cal, test = prepare("resnet20", False)
            options = {"chips": chips} if chips else {}
            at_scale = {"new": passes["new"], "new, all 256 samples": all_samples, "none": no_calibration}
            calib_rows += calibrate_side_by_side("ResNet-20 32x32", model, cal, test, at_scale, 1, **options)
        for name in models:
            if (name, "lif") in artifacts:
                estimate_rows.append(_estimate_row(name, artifacts[name, "lif"], prepare(name, False)[1], compile_rows))
                print(estimate_rows[-1], flush=True)
    text = "\n".join(["### compile", *compile_rows, "", "### refused", *(refusals or ["none"]), "",
                      "### simulate and evaluate", *sim_rows, "", "### calibration, old vs new", *calib_rows, "",
                      "### old pass estimated at scale", *estimate_rows, ""])
    (OUT / "scale.md").write_text(text)
    print("\n" + text)


def _compile_row(name: str, coding: str, target: str, r: dict) -> str:
    calibrate = "-" if r["calibrate_seconds"] is None else f"{r['calibrate_seconds']:.1f}"
    outcome = "compiled" if r["ok"] else "refused: " + r["refusal"][:90] + ("..." if len(r["refusal"]) > 90 else "")
    return f"| {name} | {coding} | {target} | {r['seconds']:.1f} | {calibrate} | {r['peak_rss_mb']:.0f} | {outcome} |"


def _estimate_row(name: str, artifact: Path, cal: Path, compile_rows: list[str]) -> str:
    x = np.load(cal)["x"][:16]
    one = whole_network_simulation_seconds(artifact, x, 64) * 256 / len(x)
    hidden = sum(p.role == "hidden" for p in load_artifact(artifact).spiking.populations)
    new = [row.split(" | ")[4] for row in compile_rows if row.startswith(f"| {name} | lif |") and "compiled" in row]
    return f"| {name} | {hidden} | {one:.1f} | {3 * hidden * one:.0f} | {new[-1] if new else '-'} |"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-compile":
        child_compile(*sys.argv[2:8])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet5,resnet20,vgg16")
    parser.add_argument("--retrain", action="store_true", help="train the models and generate the data again")
    parser.add_argument("--skip-old", action="store_true", help="skip the old-vs-new calibration comparison")
    parser.add_argument("--calibration-only", action="store_true", help="only the old-vs-new calibration comparison")
    args = parser.parse_args()
    main(args.models.split(","), args.retrain, args.skip_old, args.calibration_only)
