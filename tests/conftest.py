import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
# The CLI's persistent XLA cache (runtime/compilation_cache.py) stays off in the suite: once the CLI
# turns it on inside the pytest process every later jit reads it, and one run (2026-12-07, jax
# 0.6.2, a loaded 2-CPU machine) segfaulted deserializing a cached CPU executable in test_ttfs.
# tests/test_compilation_cache.py turns it on for its own subprocesses.
os.environ.setdefault("SNNC_CACHE_DIR", "off")
sys.path.insert(0, str(Path(__file__).parent))  # numpy_reference, helpers


@pytest.fixture(autouse=True, scope="module")
def _fresh_jax_caches():
    """Each test module starts without the compiled executables of the ones before it: hundreds of
    XLA:CPU executables in one process (each its own memory mappings) ended two fresh-clone runs
    in a segfault inside XLA late in the suite."""
    yield
    import jax

    jax.clear_caches()


def pytest_collection_modifyitems(config, items):
    """Hardware tests (@pytest.mark.loihi) run only where Lava's Loihi extension is installed."""
    import pytest

    from snnc.backends.lava.runner import loihi_extension_installed

    if loihi_extension_installed():
        return
    skip = pytest.mark.skip(reason="no Loihi hardware (lava-loihi not installed)")
    for item in items:
        if "loihi" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The digits as calibration (train split) and test .npz files: (cal, test)."""
    from helpers import write_digits

    return write_digits(tmp_path_factory.mktemp("digits"))
