import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
# the CLI's persistent XLA cache (runtime/compilation_cache.py): one fresh folder per test session
os.environ.setdefault("SNNC_CACHE_DIR", tempfile.mkdtemp(prefix="snnc-xla-"))
sys.path.insert(0, str(Path(__file__).parent))  # numpy_reference, helpers


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
