"""Point-cloud segments as tensors, and the sampler that keeps the LRU mode fast under a DataLoader.

`shuffle=True` visits segments in a uniform order, so an LRU cache of a few files misses on nearly every
segment (404 segments/s against 2,818 with `epoch_order`). `EpochOrderSampler` yields `epoch_order` instead:
a shuffle across all files that visits them in groups of `cache_files`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from dataprep.hdf5.layout import SEGMENT_COLUMNS
from dataprep.hdf5.segments import SegmentDataset
from dataprep.torchdata.shared import aligned, in_worker, ring, view


class SegmentTorchDataset(Dataset[dict[str, Any]]):
    """`[i]` is a dict: the columns x, y, z, classification as tensors of the segment's own memory, `start`
    (int) and `file` (str). Equal-length segments stack with `default_collate`; `collate_segment_tensors`
    concatenates segments of any length."""

    def __init__(self, segments: SegmentDataset) -> None:
        self.segments = segments

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, i: int) -> dict[str, Any]:
        segment = self.segments[i]
        item: dict[str, Any] = {c: torch.from_numpy(getattr(segment, c)) for c in SEGMENT_COLUMNS}
        item.update(start=segment.start, file=segment.file)
        return item


def collate_segment_tensors(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Segments concatenated point by point (they may differ in length): segment k holds points
    `offsets[k]:offsets[k + 1]` of each column; `start` and `file` name each segment's source."""
    lengths = torch.tensor([len(item["x"]) for item in items], dtype=torch.int64)
    batch: dict[str, Any] = _concatenate(items, int(lengths.sum()))
    batch["offsets"] = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(lengths, 0)])
    batch["start"] = torch.tensor([item["start"] for item in items], dtype=torch.int64)
    batch["file"] = [item["file"] for item in items]
    return batch


def _concatenate(items: Sequence[dict[str, Any]], points: int) -> dict[str, Any]:
    """The columns of every item, end to end; in a worker, into one reused shared buffer (see `shared`)."""
    if not in_worker():
        return {c: torch.cat([item[c] for item in items]) for c in SEGMENT_COLUMNS}
    sizes = [aligned(points * items[0][c].element_size()) for c in SEGMENT_COLUMNS]
    storage, slot = ring("segments").take(sum(sizes), headroom=0.25)
    columns: dict[str, Any] = {}
    for c, offset in zip(SEGMENT_COLUMNS, np.cumsum([0, *sizes[:-1]]), strict=True):
        out = view(storage, int(offset), items[0][c].dtype, (points,))
        columns[c] = torch.cat([item[c] for item in items], out=out)
    columns[SEGMENT_COLUMNS[0]] = ring("segments").lease(columns[SEGMENT_COLUMNS[0]], slot)
    return columns


class EpochOrderSampler(Sampler[int]):
    """Yields `SegmentDataset.epoch_order` each epoch: every segment once, files grouped for the LRU cache.

    A fixed `seed` gives epoch e the order of seed (seed, e); each pass (or `set_epoch`) moves to the next
    epoch. Without a seed the order is drawn from torch's generator, so `torch.manual_seed` reproduces it.

    With `num_workers` and `batch_size` (those the DataLoader gets), the LRU mode's files are also split among
    the workers: the DataLoader hands batch i to worker i % num_workers, so the order interleaves batches of
    each worker's own files, and every file is loaded by one worker once per epoch instead of by every worker.
    """

    def __init__(self, dataset: SegmentDataset | SegmentTorchDataset, seed: int | None = None, *,
                 batch_size: int = 1, num_workers: int = 0) -> None:
        self.segments = dataset.segments if isinstance(dataset, SegmentTorchDataset) else dataset
        self.seed, self.epoch = seed, 0
        self.batch_size, self.num_workers = batch_size, num_workers

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.segments)

    def __iter__(self) -> Iterator[int]:
        if self.seed is None:
            seed = int(torch.randint(0, 2**62, (), dtype=torch.int64).item())
        else:
            seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0])
        self.epoch += 1
        yield from (int(i) for i in self.order(seed))

    def order(self, seed: int) -> np.ndarray:
        """The epoch's order for this seed."""
        workers = self.num_workers
        if self.segments.mode != "lru" or workers < 2 or self.batch_size < 1:
            return self.segments.epoch_order(seed)
        rng = np.random.default_rng(seed)
        files = rng.permutation(np.unique(self.segments.file_ids))
        size = self.batch_size
        full: list[list[np.ndarray]] = []
        rest: list[np.ndarray] = []
        for w in range(workers):  # worker w's files, in batches; the incomplete last batch of each goes last
            mine = self.segments.grouped_order(files[w::workers], rng)
            cut = len(mine) - len(mine) % size
            full.append([mine[i:i + size] for i in range(0, cut, size)])
            rest.append(mine[cut:])
        interleaved = [batches[j] for j in range(max(map(len, full))) for batches in full if j < len(batches)]
        return np.concatenate([*interleaved, *rest]).astype(np.int64)
