"""Training readers through torch's DataLoader (issue 21) against the same readers in one process.

`python -m bench.loader_bench` writes small sources into a temp dir (~0.7 GB at the defaults, removed
afterwards), then measures, in one run and alternating the two sides round by round:
- replay: `ReplaySampler.sample(256)` at 224 (image cache) in this process, against the documented recipe
  (docs/recipes/replay_loader.py: `ReplayStream`, `num_workers=2`), counting duplicate batches;
- segments: `SegmentDataset(mode="lru")` over `epoch_order` with `collate_segments` in this process, against
  docs/recipes/segment_loader.py with 2 workers, checking every segment comes once per epoch.
Targets: the DataLoader side >= 0.9x the single-process rate, zero duplicate batches, every segment once.
"""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.hdf5_bench import machine_busy, others_share
from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import ReplaySampler, SegmentDataset, build_index, collate_segments
from dataprep.sample import ReplayFileSpec, write_replay_file, write_segment_file

RECIPES = Path(__file__).resolve().parents[1] / "docs/recipes"
TARGET = 0.9


def recipe(name: str) -> Callable[..., Any]:
    return runpy.run_path(str(RECIPES / f"{name}.py"))["make_loader"]


CPU: dict[str, list[float]] = {}  # microseconds of CPU (this process and its workers) per item, per side


def cpu_seconds() -> float:
    """CPU time of this process and its live children (the DataLoader's persistent workers)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


def rate(items: Callable[[], int]) -> float:
    """Items per wall second; the CPU per item goes into CPU under the function's name."""
    cpu, start = cpu_seconds(), time.perf_counter()
    count = items()
    wall = time.perf_counter() - start
    CPU.setdefault(items.__name__, []).append((cpu_seconds() - cpu) / count * 1e6)
    return count / wall


def cpu_line() -> str:
    single, loader = (float(np.median(CPU.pop(k))) for k in ("single", "through_loader"))
    return f"  CPU per item, all processes: single {single:.0f} us, DataLoader {loader:.0f} us"


def bench_replay(args: argparse.Namespace, work: Path) -> list[str]:
    source = write_replay_file(work / "replay/r.h5", ReplayFileSpec(rows=args.rows, height=args.height,
                                                                    width=args.width))
    build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": [str(source)]}],
                                                "output_root": str(work / "replay_index"),
                                                "image_cache": {"size": args.image_size}}))
    index, batch, batches = work / "replay_index", args.batch_size, args.batches
    sampler = ReplaySampler(index, image_size=args.image_size, seed=1)
    loader = recipe("replay_loader")(index, batch_size=batch, batches_per_epoch=batches,
                                     image_size=args.image_size, num_workers=args.workers, seed=1)
    keys: list[bytes] = []

    def single() -> int:
        for _ in range(batches):
            sampler.sample(batch)
        return batches * batch

    def through_loader() -> int:
        count = 0
        for b in loader:
            keys.append(b["row"].numpy().tobytes())
            count += len(b["row"])
        return count

    single()  # warm the page cache and handles
    first_epoch = rate(through_loader)  # includes starting the workers
    CPU.clear()
    before = machine_busy()
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(rate(single))
        theirs.append(rate(through_loader))
    share = others_share(before)
    sampler.close()
    one, many = float(np.median(ours)), float(np.median(theirs))
    duplicates = len(keys) - len(set(keys))
    ok = many >= TARGET * one and duplicates == 0
    return [f"replay, batches of {batch} at {args.image_size} (cache), {batches} batches x {args.rounds} rounds:",
            f"  single process ReplaySampler.sample: {one:,.0f} samples/s (rounds {_list(ours)})",
            (f"  DataLoader, {args.workers} workers (recipe): {many:,.0f} samples/s (rounds {_list(theirs)}; "
            f"first epoch with worker start {first_epoch:,.0f})"),
            (f"  ratio {many / one:.2f} (target >= {TARGET}), duplicate batches {duplicates} of {len(keys)}: "
            f"{'OK' if ok else 'MISSED'}"),
            cpu_line(),
            f"  (other processes used {share} of the machine's CPU meanwhile)"]


def bench_segments(args: argparse.Namespace, work: Path) -> list[str]:
    points = args.segments_per_file * args.segment_size
    for k in range(args.segment_files):
        write_segment_file(work / f"seg/s{k:03d}.h5", points, seed=k)
    build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "segments", "paths": str(work / "seg"),
                                                             "segment_size": args.segment_size}],
                                                "output_root": str(work / "seg_index")}))
    index, batch = work / "seg_index", args.segment_batch
    dataset = SegmentDataset(index, mode="lru", cache_files=args.cache_files)
    loader = recipe("segment_loader")(index, mode="lru", cache_files=args.cache_files, batch_size=batch,
                                      num_workers=args.workers, seed=1)
    complete: list[bool] = []

    def single() -> int:
        order = dataset.epoch_order()
        for start in range(0, len(order), batch):
            collate_segments([dataset[int(i)] for i in order[start:start + batch]])
        return len(order)

    def through_loader() -> int:
        seen = [(f, s) for b in loader for f, s in zip(b["file"], b["start"].tolist(), strict=True)]
        complete.append(len(seen) == len(set(seen)) == len(dataset))
        return len(seen)

    single()
    first_epoch = rate(through_loader)
    CPU.clear()
    before = machine_busy()
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(rate(single))
        theirs.append(rate(through_loader))
    share = others_share(before)
    one, many = float(np.median(ours)), float(np.median(theirs))
    ok = many >= TARGET * one and all(complete)
    return [(f"segments, lru ({args.cache_files} files of {args.segment_files}), {len(dataset)} segments of "
            f"{args.segment_size} points, batches of {batch}, {args.rounds} epochs:"),
            f"  single process, epoch_order + collate_segments: {one:,.0f} segments/s (rounds {_list(ours)})",
            (f"  DataLoader, {args.workers} workers (recipe): {many:,.0f} segments/s (rounds {_list(theirs)}; "
            f"first epoch with worker start {first_epoch:,.0f})"),
            (f"  ratio {many / one:.2f} (target >= {TARGET}), every segment once in every epoch: {all(complete)}: "
            f"{'OK' if ok else 'MISSED'}"),
            cpu_line(),
            f"  (other processes used {share} of the machine's CPU meanwhile)"]


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=600, help="replay rows (the 224 cache holds 450 KB a row)")
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=12, help="replay batches per round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--segment-files", type=int, default=24)
    parser.add_argument("--segments-per-file", type=int, default=64)
    parser.add_argument("--segment-size", type=int, default=16384)
    parser.add_argument("--segment-batch", type=int, default=64)
    parser.add_argument("--cache-files", type=int, default=5)
    parser.add_argument("--only", choices=["replay", "segments"])
    parser.add_argument("--work", type=Path, help="where to write the sources (default: a temp dir)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="loader-bench-", dir=args.work))
    try:
        lines = []
        if args.only in (None, "replay"):
            lines += bench_replay(args, work)
        if args.only in (None, "segments"):
            lines += bench_segments(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0 if all("MISSED" not in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
