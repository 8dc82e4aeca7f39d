"""Datasets in .npz files: arrays `x` (samples, ...) and optional `y` (integer labels or one-hot).

`x` is streamed from the archive in batches (never loaded whole), so calibration and evaluation
run in bounded memory whatever the file size. No pickle: object arrays are refused.

The boundary is strict; each refusal is one SnncError line naming the file, the array and the rule:

- x: real numbers only (signed/unsigned integers or floats; no complex, bool, text, structured,
  object or datetime), at least one sample, samples of the model's input shape up to axes of size 1,
  and every value finite (checked on each streamed batch; the first bad sample is named).
- y: integer labels (N,) or (N, 1) (floats only if every value is a finite whole number), or one-hot
  (N, C), C >= 2, every row exactly one 1 and zeros elsewhere (scores are not argmax'ed); labels
  >= 0, below `classes` when the caller gives the model's number of outputs; one label per sample.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from snnc.errors import SnncError

_REAL_KINDS = "iuf"  # signed ints, unsigned ints, floats
_KIND_NAMES = {"b": "bool", "c": "complex", "U": "text", "S": "bytes", "V": "structured/raw", "O": "object",
               "M": "datetime", "m": "timedelta"}
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)
_READ_ERRORS = (*_ARCHIVE_ERRORS, ValueError)  # ValueError: numpy's bad magic or header
_INT64_LIMIT = 2**63


@dataclass(frozen=True)
class ArrayInfo:
    shape: tuple[int, ...]
    dtype: np.dtype


def _reason(error: Exception) -> str:
    """An exception's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def _read_header(stream, path: Path, key: str) -> ArrayInfo:
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(stream)
    except _ARCHIVE_ERRORS as e:
        raise SnncError(f"{path}: array {key!r} is corrupt ({_reason(e)})") from None
    except _READ_ERRORS as e:
        raise SnncError(f"{path}: array {key!r} is not a readable .npy array ({_reason(e)})") from None
    if any(int(d) < 0 for d in shape):
        raise SnncError(f"{path}: array {key!r} is not a readable .npy array (negative size in shape {tuple(shape)})")
    if dtype.hasobject:
        raise SnncError(f"{path}: array {key!r} holds Python objects; store numbers")
    if fortran and len(shape) > 1:
        raise SnncError(f"{path}: array {key!r} is Fortran-ordered; save it with np.ascontiguousarray")
    return ArrayInfo(tuple(shape), dtype)


def _nbytes(info: ArrayInfo) -> int:
    return int(np.prod(info.shape, dtype=np.int64)) * info.dtype.itemsize


def _open_member(archive: zipfile.ZipFile, path: Path, key: str):
    name = f"{key}.npy"
    if name not in archive.namelist():
        keys = sorted(n.removesuffix(".npy") for n in archive.namelist())
        raise SnncError(f"{path}: no array {key!r} (arrays: {', '.join(keys) or 'none'})")
    try:
        stream = archive.open(name)
    except _READ_ERRORS as e:
        raise SnncError(f"{path}: array {key!r} cannot be read ({_reason(e)})") from None
    try:
        info = _read_header(stream, path, key)
        if archive.getinfo(name).file_size < stream.tell() + _nbytes(info):
            raise SnncError(f"{path}: array {key!r} is truncated (its header promises shape {info.shape})")
        return stream, info
    except SnncError:
        stream.close()
        raise


def _archive(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise SnncError(f"{path}: no such file")
    if not path.is_file():
        raise SnncError(f"{path}: not a file (expected an .npz file with arrays x and optional y)")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
        raise SnncError(f"{path}: not an .npz file (expected arrays x and optional y from np.savez)") from None
    except OSError as e:
        raise SnncError(f"{path}: cannot be read ({_reason(e)})") from None


def _read(stream, size: int, path: Path, key: str) -> bytes:
    """Exactly `size` bytes of an array's data, or a one-line refusal."""
    try:
        raw = stream.read(size)
    except _READ_ERRORS as e:
        raise SnncError(f"{path}: array {key!r} is corrupt ({_reason(e)})") from None
    if len(raw) != size:
        raise SnncError(f"{path}: array {key!r} is truncated")
    return raw


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why `dtype` is not an array of real numbers, or None."""
    if dtype.kind in _REAL_KINDS and dtype.fields is None and dtype.subdtype is None:
        return None
    return _KIND_NAMES.get(dtype.kind, dtype.kind)


def _check_x_info(info: ArrayInfo, path: Path) -> ArrayInfo:
    """Refuse an x whose header alone shows it cannot be a dataset: wrong dtype, no samples."""
    problem = _dtype_problem(info.dtype)
    if problem is not None:
        raise SnncError(f"{path}: array 'x' has dtype {info.dtype} ({problem}); "
                        "x must hold real numbers (signed/unsigned integers or floats)")
    if len(info.shape) == 0:
        raise SnncError(f"{path}: array 'x' is a single value (0-d); x must be samples of shape (N, ...)")
    if info.shape[0] == 0:
        raise SnncError(f"{path}: array 'x' has no samples (shape {info.shape}); x needs at least one")
    return info


def array_info(path: Path, key: str = "x") -> ArrayInfo:
    """Shape and dtype of array `key` from its header; for x, also the header rules of _check_x_info."""
    path = Path(path)
    with _archive(path) as archive:
        stream, info = _open_member(archive, path, key)
        stream.close()
    return _check_x_info(info, path) if key == "x" else info


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def conform(info: ArrayInfo, input_shape: tuple[int, ...], path: Path) -> tuple[int, ...]:
    """The per-sample shape to reshape x to: the model's input shape, if x's samples have that shape
    up to axes of size 1 (e.g. (8, 8) for (8, 8, 1)); any other reshape would reorder the values."""
    model = tuple(int(d) for d in input_shape)
    if len(info.shape) == 0:
        raise SnncError(f"{path}: array 'x' is a single value (0-d); x must be samples of shape (N, *{model})")
    sample = tuple(info.shape[1:])
    if sample == model or _squeezed(sample) == _squeezed(model):
        return model
    if len(info.shape) == 1:
        raise SnncError(f"{path}: array 'x' is 1-D (shape {info.shape}): each sample is one value, "
                        f"the model expects samples of shape {model}; store x as (N, *{model})")
    raise SnncError(f"{path}: array 'x' has samples of shape {sample}, the model expects {model} "
                    "(only axes of size 1 may differ)")


def _first(mask: np.ndarray) -> int | None:
    """Index of the first True in a 1-D mask, or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _check_finite(batch: np.ndarray, start: int, path: Path) -> None:
    """Refuse a batch with NaN or inf, naming the first bad sample (counted from the file's start)."""
    if batch.dtype.kind != "f":
        return
    bad = _first(~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1))
    if bad is not None:
        raise SnncError(f"{path}: array 'x' sample {start + bad} has a non-finite value (nan or inf); "
                        "every value of x must be finite")


def _check_float32_range(batch: np.ndarray, start: int, path: Path) -> None:
    bad = _first(~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1))
    if bad is not None:
        raise SnncError(f"{path}: array 'x' sample {start + bad} has a value beyond float32 range; "
                        "every value of x must fit in float32")


def iter_x(path: Path, input_shape: tuple[int, ...] | None, batch_size: int, limit: int | None = None
           ) -> Iterator[np.ndarray]:
    """Batches of x as float32 (B, *input_shape), read from the archive as needed and checked as read
    (input_shape None: the samples' shape in the file)."""
    path = Path(path)
    with _archive(path) as archive:
        stream, info = _open_member(archive, path, "x")
        with stream:
            _check_x_info(info, path)
            shape = info.shape[1:] if input_shape is None else conform(info, input_shape, path)
            count = info.shape[0] if limit is None else min(limit, info.shape[0])
            row_bytes = int(np.prod(info.shape[1:], dtype=np.int64)) * info.dtype.itemsize
            for start in range(0, count, batch_size):
                n = min(batch_size, count - start)
                raw = np.frombuffer(_read(stream, n * row_bytes, path, "x"), info.dtype).reshape(n, *shape)
                _check_finite(raw, start, path)
                with np.errstate(over="ignore"):
                    batch = raw.astype(np.float32)
                _check_float32_range(batch, start, path)
                yield batch


def _read_y(path: Path) -> tuple[np.ndarray, int]:
    """The whole y array (labels are small) and x's number of samples, from one opening of the file."""
    with _archive(path) as archive:
        x_stream, x_info = _open_member(archive, path, "x")
        x_stream.close()
        _check_x_info(x_info, path)
        stream, info = _open_member(archive, path, "y")
        with stream:
            problem = _dtype_problem(info.dtype)
            if problem is not None:
                raise SnncError(f"{path}: array 'y' has dtype {info.dtype} ({problem}); "
                                "y must hold integer labels (or whole-number floats) or one-hot rows")
            y = np.frombuffer(_read(stream, _nbytes(info), path, "y"), info.dtype).reshape(info.shape)
    return y, x_info.shape[0]


def _one_hot_labels(y: np.ndarray, path: Path, classes: int | None) -> np.ndarray:
    width = y.shape[1]
    if classes is not None and width != classes:
        raise SnncError(f"{path}: array 'y' is one-hot with {width} columns, the model has {classes} outputs")
    ones, zeros = (y == 1), (y == 0)
    bad = _first(~((ones.sum(axis=1) == 1) & (ones | zeros).all(axis=1)))
    if bad is not None:
        raise SnncError(f"{path}: array 'y' sample {bad} is not one-hot; a 2-D y (N, {width}) must have exactly one 1 "
                        "and zeros elsewhere in every row (scores are not accepted: store integer labels (N,))")
    return ones.argmax(axis=1).astype(np.int64)


def _integer_labels(y: np.ndarray, path: Path, classes: int | None) -> np.ndarray:
    if y.dtype.kind == "f":
        bad = _first(~np.isfinite(y))
        if bad is not None:
            raise SnncError(f"{path}: array 'y' sample {bad} is {y[bad]}; labels must be finite whole numbers")
        bad = _first(y != np.floor(y))
        if bad is not None:
            raise SnncError(f"{path}: array 'y' sample {bad} is {y[bad]}; float labels must be whole numbers")
    if y.dtype.kind != "u":
        bad = _first(y < 0)
        if bad is not None:
            raise SnncError(f"{path}: array 'y' sample {bad} is {y[bad]}; labels must be >= 0")
    if classes is not None:
        bad = _first(y >= classes)
        if bad is not None:
            raise SnncError(f"{path}: array 'y' sample {bad} is {y[bad]}; the model has {classes} outputs, "
                            f"so labels must be in 0..{classes - 1}")
    elif y.dtype.kind != "i":
        bad = _first(y >= _INT64_LIMIT)
        if bad is not None:
            raise SnncError(f"{path}: array 'y' sample {bad} is {y[bad]}; labels must be below 2**63")
    return y.astype(np.int64)


def load_labels(path: Path, count: int | None = None, classes: int | None = None) -> np.ndarray:
    """Integer labels from `y`: (N,) or (N, 1) labels, or one-hot (N, C). With `classes` (the model's
    number of outputs), labels must be below it and a one-hot y must be `classes` wide."""
    if classes is not None and classes < 1:
        raise ValueError(f"classes must be a positive number of model outputs, not {classes}")
    path = Path(path)
    y, n_x = _read_y(path)
    if y.ndim == 0 or y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise SnncError(f"{path}: array 'y' has shape {y.shape}; y must be labels (N,) or (N, 1), or one-hot (N, C)")
    if y.shape[0] != n_x:
        raise SnncError(f"{path}: y has {y.shape[0]} labels for {n_x} samples")
    if y.ndim == 2 and y.shape[1] >= 2:
        labels = _one_hot_labels(y, path, classes)
    else:
        labels = _integer_labels(y.reshape(-1), path, classes)
    return labels[:count]


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
