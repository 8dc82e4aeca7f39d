"""JAX's persistent compilation cache for snnc's command line.

A command runs in a fresh process, so every jit-compiled function (the simulator's scans, the
calibration's routing, the lowering's checks) would be compiled again by XLA on every run: most of
a small model's compile time. With the cache, a compilation is stored on disk under a key of the
computation, the JAX/XLA versions and the devices, and later runs load it. It never changes a
result: a cached executable is the one XLA would compile.

Where: $SNNC_CACHE_DIR, else $XDG_CACHE_HOME/snnc/xla, else ~/.cache/snnc/xla; SNNC_CACHE_DIR=off
(or empty) turns it off. Bounded to MAX_BYTES, least recently used entries evicted; concurrent
processes (sweep workers) share it under a file lock. A cache directory the user already gave JAX
is kept; one that cannot be created turns the cache off silently (it only costs time).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV = "SNNC_CACHE_DIR"
MAX_BYTES = 1 << 30


def cache_dir() -> Path | None:
    """The cache folder the environment asks for, or None when it turns the cache off."""
    setting = os.environ.get(ENV)
    if setting is not None:
        return None if setting.strip().lower() in ("", "off", "0", "none") else Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "snnc" / "xla"


def enable_compilation_cache() -> Path | None:
    """Turn JAX's persistent compilation cache on for this process; the folder used, or None."""
    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return folder
