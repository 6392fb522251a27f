"""Seed-compatible names for teams migrating from the design notes' scripts (`buffer.sample(256)`,
`MultiH5Dataset(preload_all=..., cache_size=...)`), mapped onto `ReplaySampler` and `SegmentDataset`.

Thin on purpose: the same index, the same readers, the old call shapes. New code uses the readers directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from dataprep.hdf5.errors import IndexFolderError
from dataprep.hdf5.index_file import IndexTables
from dataprep.hdf5.replay import ReplaySampler
from dataprep.hdf5.segments import SegmentDataset

Transition = tuple[np.ndarray, ...]
TUPLE_FIELDS = ("left_image", "right_image", "global_image", "joint", "action", "next_left_image",
                "next_right_image", "next_global_image", "next_joint", "reward", "not_done")


class ReplayBuffer:
    """`sample(n)` -> the 11-tuple (left, right, global, joint, action, next_left, next_right, next_global,
    next_joint, reward, not_done) of the design notes, numpy arrays (images (n, S, S, 3) uint8); `action_mean`
    and `action_std` from the index's statistics; `close()`. Keyword arguments go to `ReplaySampler`."""

    def __init__(self, index_dir: Path | str, image_size: int = 224, num_traj: int | None = None,
                 prefetch: int = 0, seed: int | None = None) -> None:
        self.sampler = ReplaySampler(index_dir, num_traj=num_traj, prefetch=prefetch, image_size=image_size,
                                     seed=seed)
        stats = IndexTables.load(index_dir).stats.get("action")
        if stats is None:
            raise IndexFolderError(f"{index_dir}: the index holds no action statistics")
        self.action_mean = np.asarray(stats.mean, dtype=np.float32)
        self.action_std = np.asarray(stats.std, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.sampler)

    def sample(self, batch_size: int) -> Transition:
        batch = self.sampler.sample(batch_size)
        return tuple(getattr(batch, name) for name in TUPLE_FIELDS)

    def close(self) -> None:
        self.sampler.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def MultiH5Dataset(index_dir: Path | str, preload_all: bool = False, cache_size: int = 5) -> SegmentDataset:  # noqa: N802 - the old class name
    """The design notes' segment dataset: `preload_all=True` -> mode "preload_all"; else `cache_size` files in
    an LRU cache (mode "lru"), or on demand when `cache_size` is 0."""
    if preload_all:
        return SegmentDataset(index_dir, mode="preload_all")
    if cache_size > 0:
        return SegmentDataset(index_dir, mode="lru", cache_files=cache_size)
    return SegmentDataset(index_dir, mode="on_demand")
