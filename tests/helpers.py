"""Shared test data: sklearn's bundled digits, split as the tf.keras fixtures were trained."""

from functools import lru_cache
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "tf2"


@lru_cache(maxsize=1)
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    return train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)


def write_digits(tmp: Path) -> tuple[Path, Path]:
    x_train, x_test, _, y_test = digits()
    np.savez(tmp / "cal.npz", x=x_train)
    np.savez(tmp / "test.npz", x=x_test, y=y_test)
    return tmp / "cal.npz", tmp / "test.npz"

# the digits fixtures and the --maxpool option each compiles with
DIGITS_MODELS = {"lenet": "refuse", "resnet": "refuse", "mlp": "refuse", "depthwise": "refuse", "maxpool": "avg"}


def captured_calibration(name: str, model: Path, calibration: Path, output: Path, **options) -> tuple[tuple, dict]:
    """The arguments compile hands the calibration pass `name` (as compiler/codings.py refers to
    it), captured from a compile of `model`."""
    import pytest

    import snnc
    import snnc.compiler.codings as codings

    captured = {}
    inner = getattr(codings, name)

    def capture(*args, **kwargs):
        captured.update(args=args, kwargs=kwargs)
        return inner(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codings, name, capture)
        snnc.compile(model, calibration=calibration, output=output, **options)
    return captured["args"], captured["kwargs"]
