"""The per-call figures behind the 2026-12-06 changes, each measured side by side in one process.

    python -m bench.micro_bench                       # all four, a few seconds each
    python -m bench.micro_bench histograms open-header

- histograms: `channel_histograms` (OpenCV) against numpy's strided copy and bincounts, a 640x480 frame;
- open-header: an h264 mp4 of noisy 640x480 frames opened as libavformat does by default against
  `video_concat`'s header-only open;
- link-tree: hard-linking a 700-file tree with `link_tree` against a `link_or_copy` per file;
- parquet-read: a 1-row, 121-column parquet file (a `meta/episodes` row's shape) read with arrow's defaults
  against compaction's settings (no thread pool, no pre-buffering).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np


def per_call(fn: Callable[[], object], n: int) -> float:
    """Milliseconds per call, after one warm-up call."""
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3


def histograms(_work: Path) -> str:
    from dataprep.lerobot.image_stats import channel_histograms, downsample

    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)

    def numpy_way() -> object:
        small = np.ascontiguousarray(downsample(frame))
        return [np.bincount(small[..., c].ravel(), minlength=256) for c in range(3)]

    return (f"channel_histograms {per_call(lambda: channel_histograms(frame), 2000):.3f} ms, "
            f"numpy {per_call(numpy_way, 2000):.3f} ms a 640x480 frame")


def open_header(work: Path) -> str:
    import av

    from dataprep.lerobot.video_concat import _HEADER_ONLY

    path = work / "noisy.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"g": "2", "crf": "30", "preset": "ultrafast"}
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (480, 640, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)

    def opened(**options: object) -> Callable[[], object]:
        def run() -> object:
            with av.open(str(path), **options) as container:  # type: ignore[call-overload]
                return container.streams.video[0].codec_context.width
        return run

    return (f"default open {per_call(opened(), 100):.2f} ms, header-only {per_call(opened(**_HEADER_ONLY), 100):.2f} "
            f"ms ({path.stat().st_size / 1e6:.1f} MB h264, 30 noisy 640x480 frames)")


def link_tree_bench(work: Path) -> str:
    from dataprep.storage.swap import link_or_copy, link_tree

    src = work / "committed"
    for i in range(700):
        kind = ("data", "videos/cam", "meta/episodes", "meta/quality")[i % 4]
        folder = src / kind / "chunk-000"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i:03d}.bin").write_bytes(b"x")
    folders = ["data", "videos", "meta/episodes", "meta/quality"]
    times: dict[str, list[float]] = {"link_tree": [], "link_or_copy": []}
    for k in range(6):
        dst = work / f"new-{k}"
        t0 = time.perf_counter()
        if k % 2 == 0:
            link_tree(src, dst, folders)
        else:
            for top in folders:
                for path in sorted((src / top).rglob("*")):
                    if path.is_file():
                        link_or_copy(path, dst / path.relative_to(src))
        times["link_tree" if k % 2 == 0 else "link_or_copy"].append((time.perf_counter() - t0) * 1e3)
        shutil.rmtree(dst)
    return (f"700 files: link_tree {min(times['link_tree']):.1f} ms, a link_or_copy per file "
            f"{min(times['link_or_copy']):.1f} ms (best of 3 each, alternating)")


def parquet_read(work: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = work / "episodes.parquet"
    columns = {f"stats/feature_{i // 6}/{('min', 'max', 'mean', 'std', 'count', 'q50')[i % 6]}": [[0.5] * 16]
               for i in range(120)}
    pq.write_table(pa.table({"episode_index": [0], **columns}), path)

    def default() -> object:
        return pq.ParquetFile(path).read_row_group(0)

    def compaction() -> object:
        return pq.ParquetFile(path, pre_buffer=False).read_row_group(0, use_threads=False)

    return (f"1 row, 121 columns: defaults {per_call(default, 300):.2f} ms, compaction's "
            f"{per_call(compaction, 300):.2f} ms")


BENCHES = {"histograms": histograms, "open-header": open_header, "link-tree": link_tree_bench,
           "parquet-read": parquet_read}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", help="some of " + ", ".join(BENCHES) + " (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.which if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        for name in args.which or list(BENCHES):
            print(f"{name}: {BENCHES[name](Path(tmp))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
