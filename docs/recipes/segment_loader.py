"""Recipe: point-cloud segments through a DataLoader with worker processes, every segment once per epoch.

    PYTHONPATH=. python docs/recipes/segment_loader.py INDEX_DIR [--mode lru] [--workers 2] [--batch-size 64]

Prints one JSON line per epoch: segments, distinct segments, segments/s. tests/test_torchdata.py runs it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from dataprep.hdf5 import SegmentDataset
from dataprep.torchdata import EpochOrderSampler, SegmentTorchDataset, collate_segment_tensors


def make_loader(index_dir: Path | str, *, mode: str = "lru", cache_files: int = 5, batch_size: int = 64,
                num_workers: int = 2, context: str = "fork", seed: int = 0,
                pin_memory: bool | None = None) -> DataLoader:
    segments = SegmentDataset(index_dir, mode=mode, cache_files=cache_files)
    return DataLoader(
        SegmentTorchDataset(segments),
        batch_size=batch_size,
        # not shuffle=True: in lru mode a uniform shuffle reloads whole files all epoch; epoch_order visits
        # the files in groups of cache_files, each group's segments shuffled together
        # batch_size and num_workers: each worker gets batches of its own files, so each file is loaded once
        sampler=EpochOrderSampler(segments, seed=seed, batch_size=batch_size, num_workers=num_workers),
        collate_fn=collate_segment_tensors,  # segments differ in length: points concatenated, with offsets
        num_workers=num_workers,
        multiprocessing_context=context if num_workers else None,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        persistent_workers=num_workers > 0,  # keeps each worker's LRU cache across epochs
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--mode", default="lru", choices=["preload_all", "lru", "on_demand"])
    parser.add_argument("--cache-files", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--context", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    loader = make_loader(args.index_dir, mode=args.mode, cache_files=args.cache_files, batch_size=args.batch_size,
                         num_workers=args.workers, context=args.context)
    for epoch in range(args.epochs):
        start, seen, count = time.perf_counter(), set(), 0
        for batch in loader:
            seen.update(zip(batch["file"], batch["start"].tolist(), strict=True))
            count += len(batch["start"])
        elapsed = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "segments": count, "distinct_segments": len(seen),
                          "dataset": len(loader.dataset), "segments_per_s": round(count / elapsed, 1)}))


if __name__ == "__main__":
    main()
