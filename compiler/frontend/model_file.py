"""Open a Keras model file safely: read its config, refuse what snnc cannot compile, then load.

The config is read with h5py / zipfile before Keras sees the file, so an unsupported or unsafe
layer (Lambda, custom classes) is refused by name and never deserialized. Loading itself uses
Keras 3 with safe_mode=True (no code from the file is executed).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from snnc.compiler.frontend.layers import SUPPORTED, check_layer_config
from snnc.errors import SnncError

os.environ.setdefault("KERAS_BACKEND", "jax")

# Keys tf.keras 2.x wrote into layer configs that Keras 3 refuses although they mean nothing here.
_LEGACY_KEYS = {"DepthwiseConv2D": ("groups",)}


def read_model_config(path: Path) -> dict:
    if not path.exists():
        raise SnncError(f"{path}: no such file")
    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise SnncError(f"{path}: not a readable .keras file ({exc})") from None
    if path.suffix not in (".h5", ".hdf5"):
        raise SnncError(f"{path}: unknown model format {path.suffix!r}; snnc reads Keras .h5 and .keras files")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise SnncError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raise SnncError(f"{path}: HDF5 file without a Keras model (no 'model_config'; weights-only file?)")
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def layer_configs(model_config: dict) -> list[dict]:
    if model_config.get("class_name") not in ("Sequential", "Functional", "Model"):
        raise SnncError(f"unsupported model class {model_config.get('class_name')!r}; snnc reads Sequential and Functional models")
    return model_config["config"]["layers"]


def check_supported(model_config: dict) -> None:
    for layer in layer_configs(model_config):
        cls = layer["class_name"]
        name = layer.get("config", {}).get("name", "?")
        if cls in ("Sequential", "Functional", "Model"):
            raise SnncError(f"layer {name!r} is a nested model ({cls}); flatten it into one model first")
        if cls not in SUPPORTED:
            raise SnncError(
                f"layer {name!r} of class {cls} is not supported; supported layers: {', '.join(sorted(SUPPORTED))}")
        check_layer_config(name, cls, layer.get("config", {}))


def load_keras_model(path: Path):
    """Keras model object from a checked file (safe mode, no compile)."""
    path = Path(path)
    check_supported(read_model_config(path))
    import keras

    shims = {cls: _without_keys(getattr(keras.layers, cls), keys) for cls, keys in _LEGACY_KEYS.items()}
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True, custom_objects=shims)
    except Exception as exc:  # Keras raises many types for damaged files; the user gets one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SnncError(f"{path}: Keras could not load the model ({first})") from None


def _without_keys(layer_class, keys):
    class Legacy(layer_class):
        def __init__(self, **kwargs):
            for key in keys:
                kwargs.pop(key, None)
            super().__init__(**kwargs)

    Legacy.__name__ = layer_class.__name__
    return Legacy
