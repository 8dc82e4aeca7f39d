"""Hostile command lines: no command overwrites one of its inputs or a special file, and no option
value gives a traceback: exit 2, one line, nothing changed or left."""

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import FIXTURES, write_digits
from snnc.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    cal, test = write_digits(tmp)
    model = tmp / "mlp.h5"
    shutil.copy(FIXTURES / "mlp.h5", model)
    artifact = tmp / "mlp.snn"
    assert main(["compile", str(model), "-o", str(artifact)]) == 0
    return tmp, model, cal, test, artifact


def _special_outputs(tmp):
    fifo = tmp / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    target = tmp / "target.txt"
    target.write_text("keep me")
    link = tmp / "link.snn"
    if not link.is_symlink():
        link.symlink_to(target)
    folder = tmp / "folder"
    folder.mkdir(exist_ok=True)
    return {"fifo": fifo, "symlink": link, "device": "/dev/null", "folder": folder}


def _snapshot(tmp):
    return {p.name: (p.lstat().st_mtime_ns, p.lstat().st_size) for p in tmp.iterdir()}


def _refused(capsys, argv, tmp):
    before = _snapshot(tmp)
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("snnc: error:") and "Traceback" not in err, err
    assert _snapshot(tmp) == before  # nothing changed, nothing left
    return err


def test_outputs_that_are_inputs_are_refused(setup, capsys):
    tmp, model, cal, test, artifact = setup
    assert "is the input" in _refused(capsys, ["compile", model, "-o", model], tmp)
    assert "is the input" in _refused(capsys, ["compile", model, "--calibration", cal, "-o", cal], tmp)
    assert "is the input" in _refused(capsys, ["export", artifact, "-o", artifact], tmp)
    os.link(cal, tmp / "hardlink.npz")
    assert "is the input" in _refused(capsys, ["compile", model, "--calibration", cal, "-o", tmp / "hardlink.npz"], tmp)
    assert "is the input" in _refused(capsys, ["export", artifact, "--data", test, "-o", test], tmp)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device", "folder"])
def test_special_files_are_never_replaced(kind, setup, capsys):
    tmp, model, cal, test, artifact = setup
    out = _special_outputs(tmp)[kind]
    _refused(capsys, ["compile", model, "-o", out], tmp)
    _refused(capsys, ["export", artifact, "--format", "nir", "-o", out], tmp)
    assert (tmp / "target.txt").read_text() == "keep me"


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "{artifact}", "--data", "{test}", "--samples", "-1"], "--samples"),
    (["evaluate", "{artifact}", "--data", "{test}", "--samples", "0"], "--samples"),
    (["evaluate", "{artifact}", "--data", "{test}", "--timesteps", "1000000000"], "--timesteps"),
    (["verify", "{artifact}", "--data", "{test}", "--timesteps", "1000000000"], "--timesteps"),
    (["verify", "{artifact}", "--data", "{test}", "--samples", "0"], "--samples"),
    (["compile", "{model}", "--timesteps-hint", "0", "-o", "{tmp}/x.snn"], "--timesteps-hint"),
    (["compile", "{model}", "--timesteps-hint", "-5", "-o", "{tmp}/x.snn"], "--timesteps-hint"),
    (["compile", "{model}", "--percentile", "0", "-o", "{tmp}/x.snn"], "--percentile"),
    (["compile", "{model}", "--max-rate", "1.5", "-o", "{tmp}/x.snn"], "--max-rate"),
    (["compile", "{tmp}", "-o", "{tmp}/x.snn"], "error"),
    (["compile", "{model}", "--calibration", "{cal}", "--percentile", "1e-9", "-o", "{tmp}/x.snn"], "scale is too small"),
    (["evaluate", "{tmp}", "--data", "{test}"], "not a file"),
])
def test_option_bounds_are_one_line(argv, message, setup, capsys):
    tmp, model, cal, test, artifact = setup
    values = dict(tmp=tmp, model=model, cal=cal, test=test, artifact=artifact)
    assert message in _refused(capsys, [a.format(**values) for a in argv], tmp)


def test_family_name_resolves_to_the_newest_chip(setup, capsys):
    tmp, model, cal, test, artifact = setup
    out = tmp / "family.snn"
    assert main(["compile", str(model), "--target", "loihi", "-o", str(out)]) == 0
    assert "loihi: loihi2" in " ".join(capsys.readouterr().out.split())
    from snnc.runtime.artifact import load_artifact

    manifest = load_artifact(out).manifest
    assert (manifest.target, manifest.requested_target) == ("loihi2", "loihi")
    out.unlink()


VALUES = st.one_of(st.integers(-10 ** 12, 10 ** 12).map(str), st.floats().map(repr), st.text(max_size=6),
                   st.sampled_from(["0", "-1", "nan", "inf", "1e-9", "1,2", "", " ", "0x10"]))
HOSTILE = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _clean_exit(capsys, argv) -> int:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("snnc: error:"), err
    return code


@HOSTILE
@given(flag=st.sampled_from(["--percentile", "--max-rate", "--timesteps-hint", "--target", "--neuron", "--maxpool"]),
       value=VALUES)
def test_any_compile_option_value_compiles_or_is_one_line(setup, capsys, flag, value):
    tmp, model, cal, test, artifact = setup
    out = tmp / "fuzz.snn"
    if _clean_exit(capsys, ["compile", model, flag, value, "-o", out]) == 0:
        out.unlink()
    assert not out.exists()


@HOSTILE
@given(flag=st.sampled_from(["--samples", "--timesteps"]),
       value=st.one_of(st.integers(-3, 300).map(str), st.text(max_size=6), st.sampled_from(["10001", "1e9", "8,-1"])))
def test_any_evaluate_option_value_runs_or_is_one_line(setup, capsys, flag, value):
    tmp, model, cal, test, artifact = setup
    _clean_exit(capsys, ["evaluate", artifact, "--data", test, flag, value, "--json"])
