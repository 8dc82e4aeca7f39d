"""Every error a user can cause: one line on stderr, exit 2, no traceback, no output file."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import FIXTURES
from snnc.cli import main


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    captured = capsys.readouterr()
    return code, captured.err


def _bad_files(tmp: Path) -> dict[str, Path]:
    truncated = tmp / "truncated.h5"
    truncated.write_bytes((FIXTURES / "lenet.h5").read_bytes()[:5000])
    not_hdf5 = tmp / "text.h5"
    not_hdf5.write_text("hello")
    return {"truncated": truncated, "not HDF5": not_hdf5, "missing": tmp / "missing.h5"}


@pytest.mark.parametrize("case,expected", [
    ("lstm.h5", "LSTM is not supported"),
    ("sigmoid.h5", "activation 'sigmoid'"),
    ("lambda.h5", "Lambda is not supported"),
])  # max pooling compiles by default (tests/test_maxpool.py has --maxpool refuse)
def test_unsupported_models_exit_2_naming_the_layer(case, expected, tmp_path, capsys, data):
    out = tmp_path / "out.snn"
    code, err = _run(capsys, "compile", FIXTURES / case, "--calibration", data[0], "-o", out)
    assert code == 2
    assert expected in err and "layer" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["truncated", "not HDF5", "missing"])
def test_bad_files_exit_2(case, tmp_path, capsys):
    path = _bad_files(tmp_path)[case]
    code, err = _run(capsys, "compile", path, "-o", tmp_path / "out.snn")
    assert code == 2
    assert str(path) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.snn").exists()


def test_unknown_target_lists_known_ones(tmp_path, capsys):
    code, err = _run(capsys, "compile", FIXTURES / "lenet.h5", "--target", "loihi9", "-o", tmp_path / "o.snn")
    assert code == 2 and "loihi2" in err and "loihi1" in err


def test_sigma_delta_on_loihi1_exits_2(tmp_path, capsys):
    assert main(["compile", str(FIXTURES / "mlp.h5"), "--target", "loihi1", "--neuron", "sigma-delta",
                 "-o", str(tmp_path / "m.snn")]) == 2
    assert "loihi1 has no sigma-delta neurons" in capsys.readouterr().err
    assert not (tmp_path / "m.snn").exists()


def test_evaluate_bad_data_and_artifact(tmp_path, capsys, data):
    code, err = _run(capsys, "evaluate", tmp_path / "none.snn", "--data", data[1])
    assert code == 2 and "no such file" in err
    art = tmp_path / "lenet.snn"
    assert _run(capsys, "compile", FIXTURES / "lenet.h5", "-o", art)[0] == 0
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 7, 7)), y=np.zeros(3, int))
    code, err = _run(capsys, "evaluate", art, "--data", tmp_path / "wrong.npz")
    assert code == 2 and "(7, 7)" in err
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((3, 8, 8)))
    code, err = _run(capsys, "evaluate", art, "--data", tmp_path / "nolabels.npz")
    assert code == 2 and "'y'" in err
    code, err = _run(capsys, "evaluate", art, "--data", data[1], "--timesteps", "8,x")
    assert code == 2


def test_installed_console_script_exits_2_without_traceback(tmp_path):
    exe = shutil.which("snnc") or str(Path(sys.executable).parent / "snnc")
    result = subprocess.run([exe, "compile", str(FIXTURES / "lstm.h5"), "-o", str(tmp_path / "x.snn")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("snnc: error: layer") and "Traceback" not in result.stderr


def test_fan_in_beyond_the_target_is_refused_before_calibration(tmp_path, capsys, data, monkeypatch):
    """A kernel too wide for Loihi's fan-in that no channel split can fit (65x65 taps of one
    channel) is refused from the lowered shapes alone: calibration and quantization never run.
    (A wide Dense layer is split into partial sums instead: tests/test_split_fan_in.py.)"""
    import keras

    from snnc.compiler.passes import balance_thresholds

    model = keras.Sequential([keras.Input((66, 66, 1)), keras.layers.Conv2D(2, 65, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "wide.keras")
    monkeypatch.setattr(balance_thresholds, "activation_statistics", lambda *a: pytest.fail("calibration ran"))
    code, err = _run(capsys, "compile", tmp_path / "wide.keras", "--calibration", data[0], "-o", tmp_path / "w.snn")
    assert code == 2 and "fan-in 4225 > 4096" in err and err.count("\n") == 1, err
    assert not (tmp_path / "w.snn").exists()
