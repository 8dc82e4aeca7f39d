"""Open a Keras model file safely: read its config, refuse what snnc cannot compile, then load.

The config is read with h5py / zipfile before Keras sees the file, so an unsupported or unsafe
layer (Lambda, custom classes) is refused by name and never deserialized. Loading itself uses
Keras 3 with safe_mode=True (no code from the file is executed), on a copy of the file whose config
initializes every weight with zeros (the saved values are read over them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

from snnc.compiler.frontend.layers import SUPPORTED, check_layer_config
from snnc.errors import SnncError

os.environ.setdefault("KERAS_BACKEND", "jax")

# Keys tf.keras 2.x wrote into layer configs that Keras 3 refuses although they mean nothing here.
_LEGACY_KEYS = {"DepthwiseConv2D": ("groups",)}


def _parse(path: Path, raw) -> dict:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise SnncError(f"{path}: the model config is not UTF-8 text") from None
    if not isinstance(raw, str):
        raise SnncError(f"{path}: the model config is a {type(raw).__name__}, not JSON text")
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SnncError(f"{path}: the model config is not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise SnncError(f"{path}: the model config is a JSON {type(config).__name__}, not an object")
    return config


def read_model_config(path: Path) -> dict:
    if not path.exists():
        raise SnncError(f"{path}: no such file")
    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as archive:
                raw = archive.read("config.json")
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as exc:
            raise SnncError(f"{path}: not a readable .keras file ({exc})") from None
        return _parse(path, raw)
    if path.suffix not in (".h5", ".hdf5"):
        raise SnncError(f"{path}: unknown model format {path.suffix!r}; snnc reads Keras .h5 and .keras files")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except (OSError, TypeError, ValueError, KeyError) as exc:
        raise SnncError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raise SnncError(f"{path}: HDF5 file without a Keras model (no 'model_config'; weights-only file?)")
    return _parse(path, raw)


def layer_configs(model_config: dict) -> list[dict]:
    """The model's layer entries, each a dict; anything else in their place is refused."""
    cls = model_config.get("class_name")
    if cls not in ("Sequential", "Functional", "Model"):
        raise SnncError(f"unsupported model class {_short(cls)}; snnc reads Sequential and Functional models")
    config = model_config.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        raise SnncError(f"the model config has no list of layers (its 'layers' is {_short(layers)})")
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise SnncError(f"layer #{index} of the model config is {_short(layer)}, not an object")
    return layers


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short_text(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _keras_layer_module(module) -> bool:
    """Keras 3 records where a layer class lives; snnc loads only Keras's own layers."""
    return module is None or module == "keras.layers" or (
        isinstance(module, str) and module.startswith(("keras.layers.", "keras.src.layers.")))


def check_supported(model_config: dict) -> None:
    for index, layer in enumerate(layer_configs(model_config)):
        cls, config = layer.get("class_name"), layer.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        name = name if isinstance(name, str) else layer.get("name") if isinstance(layer.get("name"), str) else f"#{index}"
        if not isinstance(cls, str):
            raise SnncError(f"layer {name!r} of the model config has no class_name (found {_short(cls)})")
        if not isinstance(config, dict):
            raise SnncError(f"layer {name!r} ({cls}) of the model config has no config object (found {_short(config)})")
        if cls in ("Sequential", "Functional", "Model"):
            raise SnncError(f"layer {name!r} is a nested model ({cls}); flatten it into one model first")
        if not _keras_layer_module(layer.get("module")):
            raise SnncError(f"layer {name!r} is {cls} from {_short(layer.get('module'))}, not a Keras layer; "
                            "snnc compiles Keras layers only (no keras.ops calls or custom classes)")
        if cls not in SUPPORTED:
            raise SnncError(
                f"layer {name!r} of class {cls} is not supported; supported layers: {', '.join(sorted(SUPPORTED))}")
        check_layer_config(name, cls, config)


def load_keras_model(path: Path):
    """Keras model object from a checked file (safe mode, no compile)."""
    path = Path(path)
    config = read_model_config(path)
    try:
        layer_configs(config)
    except SnncError as exc:  # the file's structure is wrong, not one layer: name the file
        raise SnncError(f"{path}: {exc}") from None
    check_supported(config)
    import keras

    shims = {cls: _without_keys(getattr(keras.layers, cls), keys) for cls, keys in _LEGACY_KEYS.items()}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            copy = _with_zero_initializers(path, config, Path(scratch))
            return keras.saving.load_model(copy, compile=False, safe_mode=True, custom_objects=shims)
    except Exception as exc:  # Keras raises many types for damaged files; the user gets one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SnncError(f"{path}: Keras could not load the model ({_short_text(first)})") from None


def _with_zero_initializers(path: Path, config: dict, scratch: Path) -> Path:
    """A copy of the model file whose config initializes every weight with zeros. Keras builds each
    layer's weights with its initializer before it reads the saved values over them, and a random
    initializer compiles a JAX program per weight shape (ResNet-20: 8.5 s of a 9.8 s load; 1.3 s
    with zeros). The saved weights are the same bytes."""
    copy = scratch / path.name
    text = json.dumps(_zero_initializers(config))
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
            for item in source.infolist():
                target.writestr(item, text if item.filename == "config.json" else source.read(item))
        return copy
    import h5py

    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["model_config"] = text
    return copy


def _zero_initializers(node):
    """The config with every '<weight>_initializer' (a serialized initializer or its name) made Zeros."""
    if isinstance(node, list):
        return [_zero_initializers(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.endswith("_initializer") and isinstance(value, str):
            out[key] = "zeros"
        elif key.endswith("_initializer") and isinstance(value, dict) and "class_name" in value:
            out[key] = {**value, "class_name": "Zeros", "config": {}} | (
                {"module": "keras.initializers"} if "module" in value else {})
        else:
            out[key] = _zero_initializers(value)
    return out


def _without_keys(layer_class, keys):
    class Legacy(layer_class):
        def __init__(self, **kwargs):
            for key in keys:
                kwargs.pop(key, None)
            super().__init__(**kwargs)

    Legacy.__name__ = layer_class.__name__
    return Legacy
