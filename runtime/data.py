"""Datasets in .npz files: arrays `x` (samples, ...) and optional `y` (int labels or one-hot).

`x` is streamed from the archive in batches (never loaded whole), so calibration and evaluation
run in bounded memory whatever the file size. No pickle: object arrays are refused.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from snnc.errors import SnncError


@dataclass(frozen=True)
class ArrayInfo:
    shape: tuple[int, ...]
    dtype: np.dtype


def _open_member(archive: zipfile.ZipFile, path: Path, key: str):
    name = f"{key}.npy"
    if name not in archive.namelist():
        keys = sorted(n.removesuffix(".npy") for n in archive.namelist())
        raise SnncError(f"{path}: no array {key!r} (arrays: {', '.join(keys) or 'none'})")
    stream = archive.open(name)
    version = np.lib.format.read_magic(stream)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = reader(stream)
    if dtype.hasobject:
        raise SnncError(f"{path}: array {key!r} holds Python objects; store numbers")
    if fortran and len(shape) > 1:
        raise SnncError(f"{path}: array {key!r} is Fortran-ordered; save it with np.ascontiguousarray")
    return stream, ArrayInfo(tuple(shape), dtype)


def _archive(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise SnncError(f"{path}: no such file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SnncError(f"{path}: not an .npz file (expected arrays x and optional y from np.savez)") from None


def array_info(path: Path, key: str = "x") -> ArrayInfo:
    with _archive(path) as archive:
        stream, info = _open_member(archive, path, key)
        stream.close()
    return info


def conform(info: ArrayInfo, input_shape: tuple[int, ...], path: Path) -> tuple[int, ...]:
    """The per-sample shape to reshape x to: the model's input shape, if x holds as many values."""
    sample = info.shape[1:]
    if sample == tuple(input_shape) or (len(info.shape) >= 1 and int(np.prod(sample)) == int(np.prod(input_shape))
                                         and len(sample) in (len(input_shape), len(input_shape) - 1)):
        return tuple(input_shape)
    raise SnncError(f"{path}: x has samples of shape {sample}, the model expects {tuple(input_shape)}")


def iter_x(path: Path, input_shape: tuple[int, ...], batch_size: int, limit: int | None = None) -> Iterator[np.ndarray]:
    """Batches of x as float32 (B, *input_shape), read from the archive as needed."""
    path = Path(path)
    with _archive(path) as archive:
        stream, info = _open_member(archive, path, "x")
        shape = conform(info, input_shape, path)
        count = info.shape[0] if limit is None else min(limit, info.shape[0])
        row_bytes = int(np.prod(info.shape[1:], dtype=np.int64)) * info.dtype.itemsize
        with stream:
            for start in range(0, count, batch_size):
                n = min(batch_size, count - start)
                raw = stream.read(n * row_bytes)
                if len(raw) != n * row_bytes:
                    raise SnncError(f"{path}: array x is truncated")
                yield np.frombuffer(raw, info.dtype).reshape(n, *shape).astype(np.float32)


def load_labels(path: Path, count: int | None = None) -> np.ndarray:
    """Integer labels from `y` (ints, or one-hot / scores reduced by argmax)."""
    path = Path(path)
    with _archive(path) as archive:
        stream, info = _open_member(archive, path, "y")
        with stream:
            y = np.frombuffer(stream.read(), info.dtype).reshape(info.shape)
    n_x = array_info(path).shape[0]
    if y.shape[0] != n_x:
        raise SnncError(f"{path}: y has {y.shape[0]} labels for {n_x} samples")
    labels = y.argmax(axis=1) if y.ndim == 2 else y.reshape(-1)
    return labels.astype(np.int64)[:count]


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
