"""Progress bars for long work: rich on a terminal, nothing otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterable

import numpy as np


@contextmanager
def progress(description: str, total: int | None):
    """Yields advance(n)."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def tracked(batches: Iterable[np.ndarray], description: str, total: int | None) -> Iterable[np.ndarray]:
    """The batches, advancing a progress bar by each batch's length."""
    with progress(description, total) as advance:
        for batch in batches:
            yield batch
            advance(len(batch))
