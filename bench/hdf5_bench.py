"""HDF5 index stage: build rate, replay batch latency, segments/s, index size; against the naive h5py reader.

`python -m bench.hdf5_bench` writes its sources into a temp dir (removed afterwards; ~4.5 GB at the defaults),
then measures in one run, side by side: our index and readers, the naive h5py way (per-row Python reads,
fancy indexing `ds[sorted_rows]`, whole files re-read per segment) and the design notes' figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import h5py
import numpy as np

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import ReplaySampler, SegmentDataset, build_index, collate_segments
from dataprep.sample import ReplayFileSpec, write_replay_file, write_segment_file

CAMERAS = ("left_image", "right_image", "global_image")
SEGMENT_COLUMNS = ("x", "y", "z", "classification")
NOTES = {  # the design notes this project grew from (see ../shared/reference/hdf5-and-spike-notes.md)
    "batch 64": "20-30 ms", "batch 256": "50-100 ms",
    "preload_all": "950/s", "lru": "87/s (5 files)", "on_demand": "1.5/s (4 workers)",
}


def machine_busy() -> tuple[float, float, float]:
    """(busy CPU s of the whole machine, CPU s of this process, wall s) now: differences give the CPU the
    rest of the machine used meanwhile (the machine is shared)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return busy, own.user + own.system, time.perf_counter()


def others_share(before: tuple[float, float, float]) -> str:
    busy, own, wall = (a - b for a, b in zip(machine_busy(), before))
    return f"{max(0.0, busy - own) / (wall * (os.cpu_count() or 1)):.0%}"


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def replay_config(paths: list[Path], out: Path, cache: int | None) -> Hdf5IndexConfig:
    return Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": [str(p) for p in paths]}],
                                           "output_root": str(out), "image_cache": {"size": cache} if cache else None})


def naive_index(path: Path, rows: int) -> float:
    """The seed's way: a Python record per sample, flags read row by row. Returns seconds per sample."""
    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        terminal, timeout = f["terminal"], f["timeout"]
        records = [{"file": str(path), "row": i, "next": None if terminal[i] or timeout[i] else i + 1}
                   for i in range(rows)]
    assert len(records) == rows
    return (time.perf_counter() - start) / rows


def naive_batch(path: Path, n_rows: int, batch: int, rng: np.random.Generator, group: str = "observations") -> None:
    """The seed's way: fancy indexing of sorted rows (and rows + 1) on each chunked camera dataset."""
    rows = np.unique(rng.integers(0, n_rows - 1, batch))
    with h5py.File(path, "r") as f:
        for cam in CAMERAS:
            f[f"{group}/{cam}" if group else cam][rows.tolist()]
            f[f"{group}/{cam}" if group else cam][(rows + 1).tolist()]


class NaiveSegments:
    """The seed's way: on demand re-reads a whole file per segment; the LRU caches whole files in a random order."""

    def __init__(self, files: list[Path], segment: int, cache_files: int | None) -> None:
        self.index = [(f, s) for f in files for s in range(0, h5py.File(f, "r")["data/x"].shape[0] // segment * segment,
                                                             segment)]
        self.segment, self.cache_files = segment, cache_files
        self.cache: OrderedDict[Path, list[np.ndarray]] = OrderedDict()

    def _file(self, path: Path) -> list[np.ndarray]:
        if self.cache_files is None or path not in self.cache:
            with h5py.File(path, "r") as f:
                columns = [f[f"data/{c}"][()] for c in SEGMENT_COLUMNS]
            if self.cache_files is None:
                return columns
            self.cache[path] = columns
            if len(self.cache) > self.cache_files:
                self.cache.popitem(last=False)
        self.cache.move_to_end(path)
        return self.cache[path]

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        path, start = self.index[i]
        return {c: col[start:start + self.segment] for c, col in zip(SEGMENT_COLUMNS, self._file(path))}


def segments_per_s(get: Callable[[int], object], order: np.ndarray, budget_s: float, batch: int = 32,
                   collate: Callable[[list[object]], object] | None = None) -> float:
    start, done = time.perf_counter(), 0
    for k in range(0, len(order), batch):
        items = [get(int(i)) for i in order[k:k + batch]]
        if collate is not None:
            collate(items)
        done += len(items)
        if time.perf_counter() - start > budget_s:
            break
    return done / (time.perf_counter() - start)


def row(measure: str, ours: str, naive: str, notes: str, target: str, ok: bool | None) -> str:
    verdict = "info" if ok is None else ("PASS" if ok else "FAIL")
    return f"{measure:<36}{ours:>14}{naive:>14}{notes:>20}{target:>12}  {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-rows", type=int, default=1_000_000, help="rows of the index-build replay file")
    parser.add_argument("--image-rows", type=int, default=1000, help="rows of the 480x640 image replay file")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--segment-files", type=int, default=20)
    parser.add_argument("--segments-per-file", type=int, default=64)
    parser.add_argument("--segment-size", type=int, default=16384)
    parser.add_argument("--only", choices=("build", "replay", "segments"), action="append",
                        help="run only these parts (repeatable; default: all)")
    parser.add_argument("--work-dir", type=Path, default=None, help="kept afterwards (default: a removed temp dir)")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hdf5-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    print(f"hdf5_bench: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} (the machine may be shared); h5py {h5py.__version__}, "
          f"HDF5 {h5py.version.hdf5_version}")
    lines: list[str] = []
    rng = np.random.default_rng(0)

    parts = set(args.only or ("build", "replay", "segments"))
    if "build" in parts:
        lines += bench_build(args, work)
    if "replay" in parts:
        lines += bench_replay(args, work, rng)
    if "segments" in parts:
        lines += bench_segments(args, work, rng)
    print(f"\n{'measure':<36}{'ours':>14}{'naive h5py':>14}{'design notes':>20}{'target':>12}  result")
    print("-" * 104)
    print("\n".join(lines))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 1 if any(line.endswith("FAIL") for line in lines) else 0


def bench_build(args: argparse.Namespace, work: Path) -> list[str]:
    """Index build rate on a 1M-row replay file with tiny images (the build never reads images)."""
    lines = []
    before = machine_busy()
    big = write_replay_file(work / "big/replay_1m.h5", ReplayFileSpec(rows=args.index_rows, height=4, width=4,
                                                                      chunked_images=False))
    start = time.perf_counter()
    report = build_index(replay_config([big], work / "big_index", None))
    build_s = time.perf_counter() - start
    naive_s = naive_index(big, min(args.index_rows, 50_000))
    rate = args.index_rows / build_s
    lines.append(row(f"index build, {args.index_rows} rows", f"{rate:,.0f}/s", f"{1 / naive_s:,.0f}/s", "-", "-", None))
    per_sample = report.index_bytes / report.counts.samples
    lines.append(row("index bytes per sample", f"{per_sample:.1f}", "-", "-", "<= 200", per_sample <= 200))
    start = time.perf_counter()
    build_index(replay_config([big], work / "big_index", None))
    lines.append(row("rerun, file unchanged (s)", f"{time.perf_counter() - start:.2f}", "-", "-", "-", None))
    shutil.rmtree(work / "big")
    lines.append(f"  (other processes used {others_share(before)} of the machine's CPU meanwhile)")
    return lines


def bench_replay(args: argparse.Namespace, work: Path, rng: np.random.Generator) -> list[str]:
    """Replay batch latency on a file of real-size images, stored one sample per chunk."""
    lines = []
    images = write_replay_file(work / "img/replay_img.h5", ReplayFileSpec(rows=args.image_rows, height=args.height,
                                                                         width=args.width))
    start = time.perf_counter()
    report = build_index(replay_config([images], work / "img_index", 224))
    rate = args.image_rows / (time.perf_counter() - start)
    lines.append(row(f"index + 224 cache, {args.image_rows} rows", f"{rate:,.0f}/s", "-", "-", "-", None))
    cache_path = report.files[0].cache
    before = machine_busy()
    raw = ReplaySampler(work / "img_index", use_cache=False, seed=1)
    cached = ReplaySampler(work / "img_index", seed=1)
    one_thread = ReplaySampler(work / "img_index", seed=1, read_threads=1)
    for b in (64, 256):
        for _ in range(2):
            cached.sample(b)  # warm the page cache and handles
        ours_raw = timed(partial(raw.sample, b), 3)
        ours_cache = timed(partial(cached.sample, b), 20)
        naive_raw = timed(partial(naive_batch, images, args.image_rows, b, rng), 1)
        naive_cache = timed(partial(naive_batch, Path(cache_path), args.image_rows, b, rng, group=""), 1)
        lines.append(row(f"batch {b}, raw {args.height}x{args.width} (ms)", f"{ours_raw * 1e3:.1f}",
                         f"{naive_raw * 1e3:.0f}", NOTES[f"batch {b}"], "-", None))
        lines.append(row(f"batch {b}, 224 cache (ms)", f"{ours_cache * 1e3:.1f}", f"{naive_cache * 1e3:.0f}",
                         NOTES[f"batch {b}"], "<= 30" if b == 256 else "-", ours_cache <= 0.030 if b == 256 else None))
        single = timed(partial(one_thread.sample, b), 20)
        lines.append(row("  same, 1 read thread (ms)", f"{single * 1e3:.1f}", "-", "-", "-", None))
    lines.append(f"  (other processes used {others_share(before)} of the machine's CPU meanwhile)")
    for sampler in (raw, cached, one_thread):
        sampler.close()
    shutil.rmtree(work / "img")
    shutil.rmtree(work / "img_index")
    return lines


def bench_segments(args: argparse.Namespace, work: Path, rng: np.random.Generator) -> list[str]:
    """Segments/s in the three modes, batches of 32 collated."""
    lines = []
    points = args.segments_per_file * args.segment_size
    files = [write_segment_file(work / f"seg/s{k:03d}.h5", points, seed=k) for k in range(args.segment_files)]
    build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "segments", "paths": str(work / "seg"),
                                                             "segment_size": args.segment_size}],
                                                "output_root": str(work / "seg_index")}))
    targets = {"preload_all": 10_000, "lru": 1_000, "on_demand": 500}
    before = machine_busy()
    for mode, target in targets.items():
        dataset = SegmentDataset(work / "seg_index", mode=mode, cache_files=5)  # type: ignore[arg-type]
        ours = segments_per_s(dataset.__getitem__, dataset.epoch_order(0), 10.0, collate=collate_segments)  # type: ignore[arg-type]
        naive = NaiveSegments(files, args.segment_size, None if mode == "on_demand" else 5 if mode == "lru" else 10**9)
        naive_rate = segments_per_s(naive.__getitem__, rng.permutation(len(naive.index)), 5.0)
        lines.append(row(f"segments/s {mode}", f"{ours:,.0f}", f"{naive_rate:,.0f}", NOTES[mode], f">= {target:,}",
                         ours >= target))
        if mode == "lru":
            shuffled = segments_per_s(dataset.__getitem__, rng.permutation(len(dataset)), 5.0, collate=collate_segments)  # type: ignore[arg-type]
            lines.append(row("  lru, order not grouped by file", f"{shuffled:,.0f}", "-", "-", "-", None))
        dataset.close()
    lines.append(f"  (other processes used {others_share(before)} of the machine's CPU meanwhile)")
    return lines


if __name__ == "__main__":
    sys.exit(main())
