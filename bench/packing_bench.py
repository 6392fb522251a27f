"""Packing at finalize: time and peak memory against the number of episodes, packed vs one file per episode.

`python -m bench.packing_bench [--episodes 4 16] [--frames 300] [--work-dir DIR]`

Stages the largest episode count once (synthetic frames, two 320x240 h264 cameras, a 16-float vector), then
finalizes the first N of them in a fresh subprocess per measurement (peak RSS is per process): packed with
lerobot's default limits (every episode appended to one data file and one mp4 per camera, by row group and by
packet copy), and with limits no two episodes fit in (one file per episode: hard links, as before packing).
Memory should not grow with the episode count: rows are copied one row group at a time, packets one by one.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dataprep.lerobot import (
    CameraFeature,
    DatasetSchema,
    EpisodeWriter,
    PackLimits,
    StagedEpisode,
    VectorFeature,
    finalize_dataset,
)
from dataprep.lerobot.video import VideoSettings
from dataprep.memory import take_snapshot

MB = 1024 * 1024
CAMERAS = ("observation.images.front", "observation.images.wrist")
ONE_PER_FILE = PackLimits(data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6)


def schema() -> DatasetSchema:
    return DatasetSchema(
        fps=30, robot_type="bench", vectors=(VectorFeature("observation.state", 16),),
        cameras=tuple(CameraFeature(key) for key in CAMERAS), video=VideoSettings(codec="h264"),
    )  # fmt: skip


def stage(folder: Path, episodes: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for e in range(episodes):
        if (folder / f"ep{e:03d}" / "episode.json").exists():
            continue
        with EpisodeWriter(folder / f"ep{e:03d}", schema(), "bench", f"ep{e}", chunk_size=100) as writer:
            for i in range(frames):
                image = np.roll(base, 3 * i + 40 * e, axis=1)
                writer.add_frame({"observation.state": np.full(16, i, np.float32)}, dict.fromkeys(CAMERAS, image))


def child(staging: Path, episodes: int, layout: str, out: Path) -> None:
    """One measurement: finalize the first `episodes` staged episodes; prints a JSON line."""
    staged = [StagedEpisode.load(staging / f"ep{e:03d}") for e in range(episodes)]
    before = take_snapshot().rss
    start = time.perf_counter()
    finalize_dataset(staged, out, "bench/packing", schema(), None if layout == "packed" else ONE_PER_FILE)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    files = sum(1 for p in out.rglob("*") if p.is_file() and p.parent.name.startswith("chunk-"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({"wall_s": wall, "rss_before": before, "peak_rss": peak, "files": files, "bytes": size}))


def measure(staging: Path, episodes: int, layout: str, work: Path) -> dict:
    out = work / f"out-{layout}-{episodes}"
    shutil.rmtree(out, ignore_errors=True)
    run = subprocess.run(
        [sys.executable, "-m", "bench.packing_bench", "--child", str(staging), str(episodes), layout, str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        staging, episodes, layout, out = args.child
        child(Path(staging), int(episodes), layout, Path(out))
        return
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="packing-bench-"))
    staging = work / "staging"
    stage(staging, max(args.episodes), args.frames)
    print(f"packing_bench: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
          f"Python {platform.python_version()}; {args.frames} frames per episode, 2 cameras 320x240 h264")
    print(f"{'episodes':>8} {'layout':>12} {'wall_s':>7} {'files':>6} {'MB':>7} {'rss_before_MB':>13} "
          f"{'peak_MB':>8} {'peak-before':>11}")
    peaks: dict[tuple[int, str], float] = {}
    for episodes in args.episodes:
        for layout in ("packed", "one-per-file"):
            row = measure(staging, episodes, layout, work)
            grown = (row["peak_rss"] - row["rss_before"]) / MB
            peaks[(episodes, layout)] = row["peak_rss"] / MB
            print(f"{episodes:>8} {layout:>12} {row['wall_s']:>7.2f} {row['files']:>6} {row['bytes'] / MB:>7.1f} "
                  f"{row['rss_before'] / MB:>13.1f} {row['peak_rss'] / MB:>8.1f} {grown:>11.1f}")
    low, high = min(args.episodes), max(args.episodes)
    print(f"peak RSS packed, {high} vs {low} episodes: {peaks[(high, 'packed')] / peaks[(low, 'packed')]:.3f}")


if __name__ == "__main__":
    main()
