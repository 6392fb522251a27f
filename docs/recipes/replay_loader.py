"""Recipe: random replay batches through a DataLoader with worker processes.

    PYTHONPATH=. python docs/recipes/replay_loader.py INDEX_DIR [--workers 2] [--context fork] [--batches 20]

Prints one JSON line per epoch: batches, samples, distinct batches, samples/s. tests/test_torchdata.py runs it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from dataprep.hdf5 import ReplaySampler
from dataprep.torchdata import ReplayStream


def make_loader(index_dir: Path | str, *, batch_size: int = 256, batches_per_epoch: int = 100, image_size: int = 224,
                num_workers: int = 2, context: str = "fork", seed: int = 0,
                pin_memory: bool | None = None) -> DataLoader:
    # prefetch=0: the DataLoader's workers read ahead (prefetch_factor batches each); a sampler prefetch
    # thread in every worker would only hold more batches in memory.
    sampler = ReplaySampler(index_dir, image_size=image_size, seed=seed, prefetch=0)
    stream = ReplayStream(sampler, batch_size=batch_size, batches_per_epoch=batches_per_epoch)
    return DataLoader(
        stream,
        batch_size=None,  # the stream yields whole batches
        num_workers=num_workers,
        multiprocessing_context=context if num_workers else None,
        generator=torch.Generator().manual_seed(seed),  # with the sampler's seed: the same batches every run
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=2 if num_workers else None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--context", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batches", type=int, default=20, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    loader = make_loader(args.index_dir, batch_size=args.batch_size, batches_per_epoch=args.batches,
                         image_size=args.image_size, num_workers=args.workers, context=args.context)
    for epoch in range(args.epochs):
        start, seen, samples = time.perf_counter(), set(), 0
        for batch in loader:
            # training would move the batch to the GPU here, then: images.permute(0, 3, 1, 2).float().div_(255)
            seen.add(batch["row"].numpy().tobytes() + "|".join(batch["file"]).encode())
            samples += len(batch["row"])
        elapsed = time.perf_counter() - start
        print(json.dumps({"epoch": epoch, "batches": len(loader), "distinct_batches": len(seen),
                          "samples": samples, "samples_per_s": round(samples / elapsed, 1)}))


if __name__ == "__main__":
    main()
