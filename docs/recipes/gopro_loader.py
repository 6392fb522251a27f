"""Recipe: GoPro + spike frames through a DataLoader with worker processes, every frame once per epoch.

    PYTHONPATH=. python docs/recipes/gopro_loader.py CONFIG.yaml [--split train] [--mode realtime] [--workers 2]

CONFIG.yaml is the gopro_prepare section the tree was prepared with. Prints one JSON line per epoch: frames,
distinct frames, frames/s. tests/test_torchdata.py runs it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from dataprep.config import GoproPrepareConfig, load_config
from dataprep.gopro import GoproSpikeDataset
from dataprep.torchdata import GoproTorchDataset


def make_loader(config: GoproPrepareConfig, split: str = "train", *, mode: str = "realtime", batch_size: int = 8,
                cache_bytes: int = 0, num_workers: int = 2, context: str = "fork", seed: int = 0,
                pin_memory: bool | None = None) -> DataLoader:
    frames = GoproSpikeDataset.from_config(config, split, mode=mode, cache_bytes=cache_bytes)
    return DataLoader(
        GoproTorchDataset(frames),  # dicts of tensors: default_collate stacks them, pin_memory pins them
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),  # the same order every run
        num_workers=num_workers,
        multiprocessing_context=context if num_workers else None,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        persistent_workers=num_workers > 0,  # keeps each worker's RAM cache (cache_bytes is per worker)
        prefetch_factor=2 if num_workers else None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--mode", default="realtime", choices=["realtime", "precomputed", "spikes"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--context", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    loader = make_loader(load_config(GoproPrepareConfig, args.config), args.split, mode=args.mode,
                         batch_size=args.batch_size, num_workers=args.workers, context=args.context)
    for epoch in range(args.epochs):
        start, seen, count = time.perf_counter(), set(), 0
        for batch in loader:
            seen.update(zip(batch["sequence"], batch["frame"], strict=True))
            count += len(batch["frame"])
        elapsed = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "frames": count, "distinct_frames": len(seen),
                          "dataset": len(loader.dataset), "frames_per_s": round(count / elapsed, 1)}))


if __name__ == "__main__":
    main()
