"""`snnc evaluate --devices N`: each batch split over a 1-D device mesh (jax.sharding) gives the same
integers as one device. The device count is fixed when JAX starts, so the runs happen in a child
process with two forced host CPU devices."""

import json
import os
import subprocess
import sys

import pytest

from helpers import FIXTURES, write_digits
from snnc.cli import main

CHILD = r"""
import contextlib, io, json, sys
import jax
import numpy as np
from snnc.backends.jax import simulator
from snnc.cli import main
from snnc.runtime.artifact import load_artifact
from snnc.runtime.devices import batch_sharding, shard_rows

mlp, lenet, test = sys.argv[1:4]


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


evaluate = ("evaluate", mlp, "--data", test, "--timesteps", "4,16", "--json")
runs = {"default": cli(*evaluate), "1": cli(*evaluate, "--devices", "1"), "2": cli(*evaluate, "--devices", "2")}
too_many = cli(*evaluate, "--devices", "3")

art = load_artifact(lenet)  # conv projections; 37 samples: not divisible by the 2 devices
net = art.spiking
x = np.load(test)["x"][:37]
drive = net.encode(x.reshape(len(x), *net.sample_shape))
one_out, one_counts, one_settled = simulator.readout_and_counts(net, art.target, drive, (4, 16))
split = shard_rows(drive, batch_sharding(2))
two_out, two_counts, two_settled = simulator.readout_and_counts(net, art.target, split, (4, 16))
for t in (4, 16):
    np.testing.assert_array_equal(two_out[t][:37], one_out[t])
for name, counts in one_counts.items():
    np.testing.assert_array_equal(two_counts[name][:37], counts)
np.testing.assert_array_equal(two_settled[:37], one_settled)
compiled = simulator._layerwise_readout.lower(net, art.target, split, 16, True).compile()
print(json.dumps({"devices": jax.device_count(), "runs": runs, "too_many": too_many,
                  "drive_devices": len(split.sharding.device_set), "padded_rows": split.shape[0],
                  "output_specs": [str(s.spec) for s in jax.tree.leaves(compiled.output_shardings)]}))
"""


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("devices")
    cal, test = write_digits(tmp)
    for name in ("mlp", "lenet"):
        assert main(["compile", str(FIXTURES / f"{name}.h5"), "--calibration", str(cal),
                     "-o", str(tmp / f"{name}.snn")]) == 0
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp / "mlp.snn"), str(tmp / "lenet.snn"), str(test)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_child_sees_two_devices(child):
    assert child["devices"] == 2


def test_evaluate_json_identical_on_one_and_two_devices(child):
    runs = child["runs"]
    assert all(r["code"] == 0 and r["err"] == "" for r in runs.values()), runs
    results = {k: json.loads(r["out"]) for k, r in runs.items()}
    assert results["2"] == results["1"] == results["default"]
    assert results["2"]["samples"] == 360  # not a multiple of the batch, the last batch 104 rows
    assert [r["timesteps"] for r in results["2"]["results"]] == [4, 16]
    assert results["2"]["synops"] > 0


def test_sharded_drive_gives_the_same_readout_integers(child):
    """Checked in the child with np.testing.assert_array_equal; here: it really was split."""
    assert child["drive_devices"] == 2 and child["padded_rows"] == 38
    assert "PartitionSpec('batch',)" in child["output_specs"]  # the scan's counts stay split over the batch


def test_more_devices_than_jax_sees_exits_2_in_one_line(child):
    r = child["too_many"]
    assert r["code"] == 2 and r["out"] == ""
    line, = r["err"].strip().splitlines()
    assert line.startswith("snnc: error: --devices:") and "JAX sees 2 devices (cpu)" in line and "not 3" in line, line


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_bad_devices_values_are_option_errors(value):
    import snnc
    from snnc.compiler.options import OptionError

    with pytest.raises(OptionError) as err:
        snnc.evaluate(FIXTURES / "missing.snn", FIXTURES / "missing.npz", devices=value)
    assert err.value.param == "devices"
