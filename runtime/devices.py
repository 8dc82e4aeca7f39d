"""A batch split over a 1-D device mesh with JAX's own SPMD (jax.sharding).

The drive is padded with zero rows to a multiple of the mesh size and placed one slice of rows per
device; a jitted simulator called on it runs partitioned over the batch (computation follows the
data). Samples never interact in the simulator, and its float32 kernels are exact (check_limits),
so every integer equals a one-device run's; the padded rows' results are dropped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def available_devices() -> int:
    """How many devices JAX sees (every host's, after jax.distributed.initialize)."""
    return jax.device_count()


def device_platforms() -> str:
    """The platforms of the devices JAX sees: 'cpu', 'gpu'."""
    return ", ".join(sorted({d.platform for d in jax.devices()}))


def batch_sharding(devices: int) -> NamedSharding:
    """The leading (batch) axis split over the first `devices` of jax.devices(), other axes whole."""
    mesh = Mesh(np.asarray(jax.devices()[:devices]), (BATCH_AXIS,))
    return NamedSharding(mesh, PartitionSpec(BATCH_AXIS))


def padded_rows(x, multiple: int):
    """x (a NumPy or JAX array, which stays where it is) with zero rows appended up to a multiple
    of `multiple` rows."""
    extra = -len(x) % multiple
    xp = jnp if isinstance(x, jax.Array) else np
    return x if extra == 0 else xp.concatenate([x, xp.zeros((extra, *x.shape[1:]), x.dtype)])


def even_rows(count: int, limit: int) -> int:
    """Rows per chunk when `count` rows are cut into as few chunks of at most `limit` rows as
    possible, all of one size (the last padded): one compiled program serves every chunk."""
    chunks = max(1, -(-count // limit))
    return max(1, -(-count // chunks))


def shard_rows(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """x padded to a multiple of the mesh size and placed across it, one slice of rows per device."""
    return jax.device_put(padded_rows(np.asarray(x), sharding.mesh.size), sharding)


def first_rows(tree, rows: int):
    """Every array of a pytree (dicts of per-sample results) cut to its first `rows` rows."""
    return jax.tree.map(lambda a: a[:rows], tree)


def fetched(x) -> np.ndarray:
    """A result on the host: np.asarray, or, for an array spanning several hosts' devices (after
    jax.distributed.initialize), every process's rows gathered (a collective every process joins)."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
