import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
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
