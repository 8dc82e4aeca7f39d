"""The CLI's persistent XLA compilation cache (runtime/compilation_cache.py): where it goes, how it
is turned off, and that a run served from it gives the same network as a fresh compilation."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import FIXTURES

from snnc.runtime.artifact import load_artifact
from snnc.runtime.compilation_cache import cache_dir


@pytest.mark.parametrize("setting, expected", [
    (None, "xdg/snnc/xla"), ("off", None), ("", None), ("OFF", None), ("{tmp}/mine", "mine")])
def test_cache_dir_follows_the_environment(setting, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if setting is None:
        monkeypatch.delenv("SNNC_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("SNNC_CACHE_DIR", setting.format(tmp=tmp_path))
    got = cache_dir()
    assert (got is None) if expected is None else got == tmp_path / expected


def _compile(folder: Path, cache: str, data, name: str) -> Path:
    cal, _ = data
    env = dict(os.environ, SNNC_CACHE_DIR=cache)
    out = folder / name
    subprocess.run([sys.executable, "-m", "snnc.cli", "compile", str(FIXTURES / "mlp.h5"), "--calibration", str(cal),
                    "-o", str(out)], env=env, check=True, capture_output=True)
    return out


def test_a_cached_compile_gives_the_same_network(tmp_path, data):
    cache = tmp_path / "cache"
    fresh = _compile(tmp_path, str(cache), data, "fresh.snn")
    entries = set(os.listdir(cache))
    assert any(e.endswith("-cache") for e in entries), entries  # XLA executables were stored
    cached = _compile(tmp_path, str(cache), data, "cached.snn")
    assert set(os.listdir(cache)) == entries  # the second run compiled nothing new
    off = _compile(tmp_path, "off", data, "off.snn")
    nets = [load_artifact(p).spiking for p in (fresh, cached, off)]
    for net in nets[1:]:  # the same structure, names and exponents, and the same integers
        assert jax.tree_util.tree_structure(net) == jax.tree_util.tree_structure(nets[0])
        for a, b in zip(jax.tree_util.tree_leaves(nets[0]), jax.tree_util.tree_leaves(net)):
            np.testing.assert_array_equal(a, b)
