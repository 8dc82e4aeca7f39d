"""snnc sweep: the grid is compiled and evaluated in worker processes, written as sweep.json and a
Pareto plot, and its pick is what a manual compile + evaluate of that configuration gives."""

import json

import pytest

from helpers import FIXTURES, write_digits
from snnc.cli import main

SAMPLES = 120


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    import snnc

    tmp = tmp_path_factory.mktemp("sweep")
    cal, test = write_digits(tmp)
    result = snnc.sweep(FIXTURES / "lenet.h5", cal, test, tmp / "out", codings=("rate", "sigma-delta", "ttfs"),
                        timesteps=(8, 16, 32, 64), percentiles=(99.9, 99.99), limit=SAMPLES, workers=2)
    return tmp, cal, test, result


def test_grid_written_with_plot(swept):
    tmp, cal, test, result = swept
    assert len(result.points) == 3 * 4 * 2 and not result.refused
    stored = json.loads((tmp / "out" / "sweep.json").read_text())
    assert len(stored["points"]) == 24 and stored["best"] == json.loads(result.best.model_dump_json())
    assert (tmp / "out" / "pareto.png").stat().st_size > 10_000
    assert result.best.accuracy == max(p.accuracy for p in result.points)


def test_best_pick_matches_a_manual_compile_and_evaluate(swept):
    import snnc
    from snnc.compiler.codings import TUNED_TO_TIMESTEPS

    tmp, cal, test, result = swept
    best = result.best
    options = {"max_rate": best.config.max_rate} if best.config.max_rate is not None else {}
    if best.config.coding in TUNED_TO_TIMESTEPS:  # compiled for the T it is read at
        options["timesteps_hint"] = best.timesteps
    snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=tmp / "manual.snn", coding=best.config.coding,
                 percentile=best.config.percentile, **options)
    manual = snnc.evaluate(tmp / "manual.snn", test, (best.timesteps,), limit=SAMPLES)
    assert manual.results[0].accuracy == best.accuracy
    assert manual.synops == best.synops


def test_limits_constrain_the_pick(swept):
    from snnc.runtime.sweep import best_point

    tmp, cal, test, result = swept
    fast = best_point(result.points, max_steps=8, max_energy_uj=None)
    assert fast.timesteps == 8 and fast.accuracy == max(p.accuracy for p in result.points if p.timesteps == 8)
    frugal = min(p.energy_uj for p in result.points)
    assert best_point(result.points, None, frugal).energy_uj == frugal
    assert best_point(result.points, None, frugal / 2) is None


def test_unknown_coding_is_one_line(swept, capsys):
    tmp, cal, test, result = swept
    code = main(["sweep", str(FIXTURES / "lenet.h5"), "--calibration", str(cal), "--data", str(test),
                 "--codings", "rate,ttfx", "-o", str(tmp / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--codings" in err and "ttfx" in err
    assert not (tmp / "bad").exists()


def test_a_ttfs_refusal_at_one_t_keeps_the_other_ts(swept):
    from snnc.runtime.sweep import SweepConfig, _run

    tmp, cal, test, _ = swept
    config = SweepConfig(coding="ttfs", percentile=99.9, max_rate=None)
    points, refused = _run(str(FIXTURES / "lenet.h5"), str(cal), str(test), config, (4, 64), str(tmp / "t.snn"), 20)
    assert [p["timesteps"] for p in points] == [64] and (tmp / "t_T64.snn").exists()
    assert len(refused) == 1 and "at T=4" in refused[0] and "needs at least" in refused[0]
