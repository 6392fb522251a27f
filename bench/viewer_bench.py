"""Writing the dataset viewer: time and peak memory against the number of episodes, side by side.

`python -m bench.viewer_bench [--episodes 100 1000] [--frames 60] [--work-dir DIR] [--browser]`

Writes one synthetic dataset of the largest episode count with the library's own writer (short episodes,
a 14-float state and a 7-float action, 30 fps, no camera: the viewer reads only the episodes' metadata rows of a
video, so cameras change nothing it reads), then writes the viewer of the first N episodes' dataset in a fresh
subprocess per measurement (peak RSS is per process). Memory should not grow with the number of episodes:
the data parquet is read one batch at a time, episodes are written out as they complete. With `--browser`,
opens the largest index in headless Chromium and times its first render and a sort by score.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dataprep.lerobot import DatasetSchema, EpisodeWriter, VectorFeature, finalize_dataset
from dataprep.memory.snapshot import peak_rss, take_snapshot

FPS = 30
MB = 1024 * 1024


def make_dataset(folder: Path, episodes: int, frames: int) -> Path:
    schema = DatasetSchema(fps=FPS, robot_type="bench", cameras=(),
                           vectors=(VectorFeature("observation.state", 14), VectorFeature("action", 7)))
    rng = np.random.default_rng(0)
    staged = []
    for e in range(episodes):
        with EpisodeWriter(folder / "staging" / f"ep{e:05d}", schema, f"task {e % 5}", f"synthetic {e}",
                           chunk_size=frames) as writer:
            for _ in range(frames):
                writer.add_frame({"observation.state": rng.standard_normal(14).astype(np.float32),
                                  "action": rng.standard_normal(7).astype(np.float32)}, {})
            staged.append(writer.close())
    root = finalize_dataset(staged, folder / f"dataset-{episodes}", f"bench/viewer{episodes}", schema).root
    shutil.rmtree(folder / "staging")
    return root


def measure(root: Path, out: Path) -> dict[str, float]:
    """In this process: RSS before, peak during, and the wall time of one viewer write."""
    from dataprep.viewer import write_viewer

    before = take_snapshot().rss / MB
    started = time.perf_counter()
    write_viewer(root, out)  # cold: the first write also pays lazy imports and reads from disk
    cold = time.perf_counter() - started
    started = time.perf_counter()
    summary = write_viewer(root, out)  # warm: what a rewrite after each conversion costs
    wall = time.perf_counter() - started
    peak = peak_rss() / MB
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    return {"episodes": summary.episodes, "frames": summary.frames, "cold_s": cold, "wall_s": wall,
            "rss_before_mb": before, "peak_rss_mb": peak, "viewer_mb": size}


def in_subprocess(root: Path, out: Path) -> dict[str, float]:
    code = ("import json, sys; from pathlib import Path; from bench.viewer_bench import measure; "
            "print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]))))")
    done = subprocess.run([sys.executable, "-c", code, str(root), str(out)], capture_output=True, text=True,
                          check=True, timeout=1800)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def browser_timings(index: Path) -> dict[str, float]:
    """First render of the index and a sort by score, as the page's own clock measures them."""
    from websockets.sync.client import connect

    from scripts.ui_screenshot import DevTools, find_chromium, start_chromium, stop

    with tempfile.TemporaryDirectory(prefix="viewer-bench-") as profile:
        proc, ws_url = start_chromium(find_chromium(), Path(profile), 1300, 1000)
        try:
            with connect(ws_url, max_size=None) as ws:
                tools = DevTools(ws)
                tools.call("Page.enable")
                tools.call("Page.navigate", url=index.as_uri())
                for _ in range(300):
                    if tools.evaluate("!!window.viewerIndex"):
                        break
                    time.sleep(0.05)
                loaded = float(tools.evaluate("performance.now()"))
                sort = ("(() => { const t = performance.now(); document.querySelector('[data-col=\"4\"]').click(); "
                        "return performance.now() - t; })()")
                tools.evaluate(sort)  # the first click also compiles the handlers
                sort_ms = float(tools.evaluate(sort))
                rows = int(tools.evaluate("document.querySelectorAll('#rows [data-episode]').length"))
        finally:
            stop(proc)
    return {"ready_ms": loaded, "sort_ms": sort_ms, "rows_in_page": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--frames", type=int, default=60, help="frames per episode (2 s at 30 fps)")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--browser", action="store_true", help="also time the largest index in Chromium")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    print(f"# viewer_bench on {platform.node()} ({platform.machine()}), {args.frames} frames per episode, "
          f"episodes {args.episodes}; work dir {work}")
    try:
        report(work, args)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work)
    return 0


def report(work: Path, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    roots = {n: make_dataset(work / f"make-{n}", n, args.frames) for n in sorted(args.episodes)}
    print(f"wrote the synthetic datasets in {time.perf_counter() - started:.1f} s")
    rows = {n: in_subprocess(root, work / f"viewer-{n}") for n, root in roots.items()}
    print(f"{'episodes':>8} {'frames':>8} {'cold s':>7} {'warm s':>7} {'ms/episode':>10} {'RSS before MB':>13} "
          f"{'peak RSS MB':>11} {'viewer MB':>9}")
    for n, row in rows.items():
        print(f"{n:>8} {row['frames']:>8.0f} {row['cold_s']:>7.2f} {row['wall_s']:>7.2f} "
              f"{1000 * row['wall_s'] / n:>10.2f} "
              f"{row['rss_before_mb']:>13.0f} {row['peak_rss_mb']:>11.0f} {row['viewer_mb']:>9.2f}")
    small, large = min(rows), max(rows)
    ratio = (rows[large]["peak_rss_mb"] - rows[large]["rss_before_mb"]) / max(
        1.0, rows[small]["peak_rss_mb"] - rows[small]["rss_before_mb"])
    print(f"peak RSS above the start, {large} / {small} episodes: {ratio:.2f} (flat: about 1)")
    print(f"peak RSS {large} / {small} episodes: {rows[large]['peak_rss_mb'] / rows[small]['peak_rss_mb']:.3f}")
    if args.browser:
        print(f"index of {large} episodes in Chromium: {browser_timings(work / f'viewer-{large}' / 'index.html')}")


if __name__ == "__main__":
    sys.exit(main())
