"""Replay batches as tensors: `ReplayStream` (random batches, an IterableDataset) and `ReplayTransitions`
(every transition once per epoch, map-style with one batched read per batch).

A batch of 256 at 224 x 224 carries ~230 MB of images. Pickled as numpy through a worker's pipe that was 627
samples/s against ~7,000 in one process; inside a worker these views read the images straight into one
shared-memory tensor (the storage torch's `default_collate` would allocate), so the batch reaches the main
process as a file descriptor, not as a copy, and reuse that memory once the main process has dropped the
batch (see `shared`). In the main process (`num_workers=0`) the sampler's own pooled buffer is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, default_collate, get_worker_info

from dataprep.hdf5.layout import REPLAY_IMAGES
from dataprep.hdf5.replay import ReplayBatch, ReplaySampler
from dataprep.torchdata.shared import in_worker, ring, view

IMAGE_FIELDS = tuple(name for cam in REPLAY_IMAGES for name in (cam, f"next_{cam}"))  # batch_at's buffer order
VECTOR_FIELDS = ("joint", "action", "next_joint", "reward", "not_done")


def replay_tensors(batch: ReplayBatch, images: torch.Tensor | None = None) -> dict[str, Any]:
    """A batch as a dict of tensors (images (B, S, S, 3) uint8, vectors float32, `row` int64) plus `file`, the
    source path of each sample. `images`: the (6, B, S, S, 3) tensor the batch was read into, if any."""
    out: dict[str, Any] = {}
    for k, name in enumerate(IMAGE_FIELDS):
        out[name] = images[k] if images is not None else torch.from_numpy(getattr(batch, name))
    for name in VECTOR_FIELDS:
        out[name] = torch.from_numpy(getattr(batch, name))
    out["row"] = torch.from_numpy(batch.row)
    out["file"] = list(batch.file)
    return out


def read_batch(sampler: ReplaySampler, index: np.ndarray) -> dict[str, Any]:
    """The transitions at these index samples as tensors, read into a reused shared buffer when in a worker."""
    if not in_worker():
        return replay_tensors(sampler.batch_at(index))
    shape = (len(IMAGE_FIELDS), len(index), sampler.image_size, sampler.image_size, 3)
    storage, slot = ring("replay").take(math.prod(shape))
    images = view(storage, 0, torch.uint8, shape)
    batch = replay_tensors(sampler.batch_at(index, images=images.numpy()), images)
    batch[IMAGE_FIELDS[0]] = ring("replay").lease(batch[IMAGE_FIELDS[0]], slot)
    return batch


class ReplayStream(IterableDataset[dict[str, Any]]):
    """`batches_per_epoch` random batches (with replacement) per epoch, split among the workers; use it with
    `DataLoader(stream, batch_size=None, num_workers=...)`. The sampler reseeds itself in each worker from torch's
    worker seed, so workers never repeat each other; `DataLoader(generator=torch.Generator().manual_seed(s))`
    (or `torch.manual_seed(s)`) with a fixed sampler seed reproduces the run."""

    def __init__(self, sampler: ReplaySampler, batch_size: int, batches_per_epoch: int) -> None:
        if batch_size < 1 or batches_per_epoch < 1:
            raise ValueError(f"batch_size and batches_per_epoch must be >= 1, got {batch_size}, {batches_per_epoch}")
        self.sampler, self.batch_size, self.batches_per_epoch = sampler, batch_size, batches_per_epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        mine = range(self.batches_per_epoch) if info is None else range(info.id, self.batches_per_epoch,
                                                                         info.num_workers)
        for _ in mine:
            yield read_batch(self.sampler, self.sampler.draw(self.batch_size))


class ReplayTransitions(Dataset[dict[str, Any]]):
    """Every transition once per epoch: `DataLoader(ReplayTransitions(sampler), batch_size=256, shuffle=True,
    collate_fn=keep_batch, ...)`. The DataLoader's sampler (in the main process) picks the transitions, and the
    worker reads the whole batch at once through `__getitems__`; `[i]` alone gives one transition whose
    fields `default_collate` stacks (slower: one read per sample)."""

    def __init__(self, sampler: ReplaySampler) -> None:
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        return read_batch(self.sampler, self.sampler.transitions[np.asarray(indices, dtype=np.int64)])

    def __getitem__(self, i: int) -> dict[str, Any]:
        batch = replay_tensors(self.sampler.batch_at(self.sampler.transitions[[i]]))
        return {key: value[0].clone() if isinstance(value, torch.Tensor) else value[0] for key, value in batch.items()}


def keep_batch(batch: Any) -> Any:
    """`collate_fn` for `ReplayTransitions`: its `__getitems__` returns a whole batch, kept as it is; a list of
    single transitions goes to `default_collate`."""
    return default_collate(batch) if isinstance(batch, list) else batch
