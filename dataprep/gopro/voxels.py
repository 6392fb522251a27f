"""Writing voxel files: atomically (temp, fsync, rename) on background threads.

The fsync of each voxel costs about as much as decoding the next spike file (2 ms for 1.8 MB here), so the
writes run on a small thread pool while the caller decodes on; fsync releases the GIL. At most `pending`
voxels wait in memory, so memory stays bounded whatever the sequence length.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import numpy as np

from dataprep.storage import atomic_path

WRITER_THREADS = 2
MAX_PENDING = 4


def write_voxel(path: Path, voxel: np.ndarray) -> None:
    """One `.npy`, atomically (np.save is given the open file: given a path it would append `.npy`)."""
    with atomic_path(path) as tmp, tmp.open("wb") as out:
        np.save(out, voxel)


class VoxelWriter:
    """`submit` voxels inside a `with` block; leaving it waits for every write and raises the first error."""

    def __init__(self, threads: int = WRITER_THREADS, pending: int = MAX_PENDING) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="voxel-writer")
        self._pending: deque[Future[None]] = deque()
        self._limit = pending

    def submit(self, path: Path, voxel: np.ndarray) -> None:
        while len(self._pending) >= self._limit:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(write_voxel, path, voxel))

    def __enter__(self) -> VoxelWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)
