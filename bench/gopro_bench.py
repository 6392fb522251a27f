"""GoPro + spike preparation benchmark: links/s, voxels/s and the ratio to the floor, loader samples/s.

    python -m bench.gopro_bench                            # 2,000 frames in each encoding, a few minutes
    python -m bench.gopro_bench --frames 500 --encodings bitpacked --work-dir /tmp/gopro-bench

For each encoding, one invocation writes a raw tree of `--frames` frames in `--sequences` sequences (spike
files of the real geometry: bytes 10 x 396 x 640, bitpacked 88 x 360 x 640, both 2,534,400 bytes; the PNGs are
symlinks to three real 1280 x 720 PNGs, since linking never reads them), then measures side by side:

1. floor: only reading and unpacking the same spike files (np.fromfile; np.unpackbits for bitpacked), run
   before and after the preparation runs to bracket the noise of a shared machine;
2. links: `prepare_tree` without voxels into a fresh output (checks every spike file, makes the links);
3. voxels: `prepare_tree` with voxels into another fresh output (checks, voxelizes and writes each voxel with
   a temp file, fsync and rename, makes the links); its time / the floor's is the target (<= 1.5). Next to it:
   `voxelize_file` alone over the same files (no writing), the floor plus a durable write of a voxel-sized
   array per file (what writing costs on this disk), and the voxel run with fsync patched out (info only);
4. rerun: the voxel run again, which must change nothing;
5. loader: `GoproSpikeDataset` samples/s (blur + sharp PNG decode + voxels) in realtime and precomputed modes.

Everything runs in this process, one thread, page cache warm (the files were just written); the preparation is
the library call the flow's tasks make, without Prefect.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/gopro_bench.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from dataprep.config import GoproPrepareConfig  # noqa: E402
from dataprep.gopro import GoproSpikeDataset, SpikeGeometry, prepare_tree  # noqa: E402
from dataprep.gopro.spikes import voxelize_file  # noqa: E402
from dataprep.gopro.voxels import write_voxel  # noqa: E402
from dataprep.storage import atomic  # noqa: E402

GEOMETRIES = {
    "bytes": (SpikeGeometry("bytes", 10, 396, 640, False), 5),
    "bitpacked": (SpikeGeometry("bitpacked", 88, 360, 640, True), 8),
}
RATIO_TARGET = 1.5
DISTINCT_SPIKE_FILES = 16  # contents cycled over the tree; reading cost does not depend on the bits
PNG_SIZE = (720, 1280)
CHANGES = ("links_created", "links_updated", "links_removed", "voxels_written", "voxels_removed")


class Timing(NamedTuple):
    wall: float
    cpu: float


def timed(action: Any) -> tuple[Any, Timing]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def settle() -> None:
    """Flush dirty pages left by the previous measure (untimed), so its writeback does not slow the next one:
    a run that leaves GBs of voxels dirty made the next run's symlink calls 6x slower."""
    os.sync()


def last_of(action: Any, items: Any) -> Any:
    """Apply `action` to each item keeping only the last result (a list of 2,000 voxels would be GBs)."""
    result = None
    for item in items:
        result = action(item)
    return result


def write_raw_tree(raw: Path, geometry: SpikeGeometry, frames: int, sequences: int) -> list[Path]:
    """The raw tree (reused when its marker says it is complete); returns the spike files in tree order."""
    marker = raw / f".complete-{geometry.encoding}-{frames}-{sequences}"
    per_sequence = -(-frames // sequences)
    names = [
        (f"GOPR{s:04d}_00_00", f"{s * 1000 + 47 + i:06d}")
        for s in range(sequences)
        for i in range(per_sequence)
    ][:frames]
    spikes = [raw / "spike/train" / seq / "spike" / f"{frame}.dat" for seq, frame in names]
    if marker.exists():
        return spikes
    shutil.rmtree(raw, ignore_errors=True)
    import cv2

    pngs = []
    rng = np.random.default_rng(0)
    for i in range(3):
        y, x = np.mgrid[0 : PNG_SIZE[0], 0 : PNG_SIZE[1]]
        image = ((x + y * (i + 1)) % 256).astype(np.uint8)[..., None].repeat(3, axis=2)
        image = np.clip(image.astype(np.int16) + rng.integers(-8, 8, image.shape), 0, 255).astype(np.uint8)
        pngs.append(raw / f"png/{i}.png")
        pngs[-1].parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(pngs[-1]), image)
    if geometry.encoding == "bytes":
        contents = [
            rng.integers(0, 2, geometry.file_bytes, dtype=np.uint8).tobytes()
            for _ in range(DISTINCT_SPIKE_FILES)
        ]
    else:
        contents = [
            rng.integers(0, 256, geometry.file_bytes, dtype=np.uint8).tobytes()
            for _ in range(DISTINCT_SPIKE_FILES)
        ]
    for i, ((seq, frame), spike) in enumerate(zip(names, spikes, strict=True)):
        for folder in ("blur", "sharp"):
            link = raw / "gopro/train" / seq / folder / f"{frame}.png"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(pngs[(i + (folder == "sharp")) % 3])
        spike.parent.mkdir(parents=True, exist_ok=True)
        spike.write_bytes(contents[i % DISTINCT_SPIKE_FILES])
    marker.touch()
    return spikes


def floor(
    spikes: list[Path],
    geometry: SpikeGeometry,
    write_like: np.ndarray | None = None,
    scratch: Path | None = None,
) -> Timing:
    """Only read and unpack every spike file: what any preparation must at least do.

    With `write_like`, also write an array like it per file the way voxels are written (atomic_path: temp,
    fsync, rename; one after another): the durable-write floor.
    """

    def run() -> int:
        total = 0
        for i, path in enumerate(spikes):
            raw = np.fromfile(path, dtype=np.uint8)
            total += int(
                (np.unpackbits(raw, bitorder="little") if geometry.encoding == "bitpacked" else raw)[-1]
            )
            if write_like is not None and scratch is not None:
                write_voxel(scratch / f"{i}.npy", write_like)
        return total

    return timed(run)[1]


def config(raw: Path, out: Path, geometry: SpikeGeometry, bins: int | None, dtype: str) -> GoproPrepareConfig:
    spike = {
        "encoding": geometry.encoding,
        "frames": geometry.frames,
        "height": geometry.height,
        "width": geometry.width,
    }
    return GoproPrepareConfig.model_validate(
        {
            "gopro_root": raw / "gopro",
            "spike_root": raw / "spike",
            "output_root": out,
            "spike": spike,
            "voxels": {"bins": bins, "dtype": dtype} if bins else None,
        }
    )


def loader_rate(cfg: GoproPrepareConfig, mode: str, samples: int) -> tuple[float, float, np.ndarray]:
    """Samples/s through the dataset, and spike arrays/s alone (the part the two modes differ in)."""
    dataset = GoproSpikeDataset.from_config(cfg, "train", mode=mode)  # type: ignore[arg-type]
    indices = np.random.default_rng(1).choice(len(dataset), size=min(samples, len(dataset)), replace=False)
    dataset[int(indices[0])]  # first file opens and imports out of the timing
    last, timing = timed(lambda: last_of(lambda i: dataset[int(i)].spike, indices))
    frames = dataset.frames()
    paths = [cfg.output_root / "train" / frames[i][0] / f"{frames[i][1]}" for i in indices]
    geometry, voxels = SpikeGeometry.from_spec(cfg.spike), cfg.voxels
    if mode == "precomputed":
        spike_only = timed(
            lambda: last_of(lambda p: np.load(p.parent / "spike_vox" / f"{p.name}.npy"), paths)
        )[1]
    else:

        def from_dat(p: Path) -> np.ndarray:
            return voxelize_file(p.parent / "spike" / f"{p.name}.dat", geometry, voxels.bins, voxels.dtype)

        spike_only = timed(lambda: last_of(from_dat, paths))[1]
    return len(indices) / timing.wall, len(indices) / spike_only.wall, last


def bench_encoding(work: Path, encoding: str, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    geometry, bins = GEOMETRIES[encoding]
    raw = work / encoding / "raw"
    print(
        f"{encoding}: {geometry.describe()} per file, {args.frames} frames in {args.sequences} sequences ...",
        flush=True,
    )
    spikes, gen = timed(lambda: write_raw_tree(raw, geometry, args.frames, args.sequences))
    print(
        f"  raw tree ready in {gen.wall:.1f} s ({len(spikes)} spike files, "
        f"{len(spikes) * geometry.file_bytes / 1e9:.2f} GB)",
        flush=True,
    )
    floor(spikes, geometry)  # untimed: brings the files into the page cache, whatever ran before
    floor_before = floor(spikes, geometry)
    compute = timed(lambda: last_of(lambda p: voxelize_file(p, geometry, bins, args.voxel_dtype), spikes))[1]
    runs: dict[str, Timing] = {}
    reports = {}
    for name, out, with_voxels in (
        ("links", work / encoding / "out_links", False),
        ("voxels", work / encoding / "out_voxels", True),
        ("rerun", work / encoding / "out_voxels", True),
        ("nofsync", work / encoding / "out_nofsync", True),
    ):
        if name != "rerun":
            shutil.rmtree(out, ignore_errors=True)
        settle()
        cfg = config(raw, out, geometry, bins if with_voxels else None, args.voxel_dtype)
        with mock.patch.object(atomic, "fsync_path", return_value=None) if name == "nofsync" else nullcontext():
            reports[name], runs[name] = timed(lambda: prepare_tree(cfg))  # noqa: B023
        if name == "nofsync":
            shutil.rmtree(out)
    floor_after = floor(spikes, geometry)
    floor_wall = (floor_before.wall + floor_after.wall) / 2
    like = np.zeros((bins, geometry.height, geometry.width), dtype=args.voxel_dtype)
    scratch = work / encoding / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    settle()
    write_floor = floor(spikes, geometry, like, scratch)
    shutil.rmtree(scratch)
    settle()
    links = reports["links"].totals()["links_created"]
    voxels = reports["voxels"].totals()["voxels_written"]
    rerun = reports["rerun"].totals()
    vcfg = config(raw, work / encoding / "out_voxels", geometry, bins, args.voxel_dtype)
    realtime, realtime_spikes, last_rt = loader_rate(vcfg, "realtime", args.loader_samples)
    precomputed, precomputed_spikes, last_pc = loader_rate(vcfg, "precomputed", args.loader_samples)
    n = len(spikes)
    rows = [
        (
            "floor: read+unpack, before / after",
            f"{floor_before.wall:.2f} / {floor_after.wall:.2f} s",
            f"{n / floor_wall:,.0f} files/s",
            "-",
        ),
        (
            "voxelize alone (validate + unpack + sum, no write)",
            f"{compute.wall:.2f} s",
            f"{n / compute.wall:,.0f} voxels/s",
            f"{compute.wall / floor_wall:.2f}",
        ),
        (
            "floor + durable write of each voxel (sequential)",
            f"{write_floor.wall:.2f} s",
            f"{n / write_floor.wall:,.0f} files/s",
            f"{write_floor.wall / floor_wall:.2f}",
        ),
        (
            "links run (no voxels)",
            f"{runs['links'].wall:.2f} s",
            f"{links / runs['links'].wall:,.0f} links/s",
            f"{runs['links'].wall / floor_wall:.2f}",
        ),
        (
            f"voxels run ({bins} bins, {args.voxel_dtype})",
            f"{runs['voxels'].wall:.2f} s",
            f"{voxels / runs['voxels'].wall:,.0f} voxels/s",
            f"{runs['voxels'].wall / floor_wall:.2f}",
        ),
        (
            "  same without fsync (info: what the fsyncs cost)",
            f"{runs['nofsync'].wall:.2f} s",
            f"{n / runs['nofsync'].wall:,.0f} voxels/s",
            f"{runs['nofsync'].wall / floor_wall:.2f}",
        ),
        (
            "rerun (must change nothing)",
            f"{runs['rerun'].wall:.2f} s",
            f"changed {sum(rerun[k] for k in CHANGES)}",
            f"{runs['rerun'].wall / floor_wall:.2f}",
        ),
        ("loader realtime (2 PNG 1280x720 + voxel)", "-", f"{realtime:,.1f} samples/s", "-"),
        ("loader precomputed (2 PNG 1280x720 + .npy)", "-", f"{precomputed:,.1f} samples/s", "-"),
        ("  voxels alone: realtime from .dat", "-", f"{realtime_spikes:,.0f} voxels/s", "-"),
        ("  voxels alone: precomputed .npy", "-", f"{precomputed_spikes:,.0f} voxels/s", "-"),
    ]
    result = "PASS" if runs["voxels"].wall / floor_wall <= RATIO_TARGET else "FAIL"
    rows.append((f"target: voxels run / floor <= {RATIO_TARGET}", "-", "-", result))
    rows.append(
        ("  voxels run / (floor + durable write)", "-", "-", f"{runs['voxels'].wall / write_floor.wall:.2f}")
    )
    assert links == 3 * n and voxels == n and np.array_equal(last_rt, last_pc), (
        "bench run is not what it claims"
    )
    return [(f"{encoding} {label}", *rest) for label, *rest in rows]  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--encodings", nargs="+", default=["bytes", "bitpacked"], choices=sorted(GEOMETRIES))
    parser.add_argument("--voxel-dtype", default="uint8", choices=["uint8", "uint16", "float16", "float32"])
    parser.add_argument("--loader-samples", type=int, default=200)
    parser.add_argument(
        "--work-dir", type=Path, help="keep the raw trees here and reuse them (default: temp)"
    )
    args = parser.parse_args()
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    print(
        f"gopro_bench: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}; numpy {np.__version__}; "
        f"git {git.stdout.strip()}; load average {os.getloadavg()[0]:.2f}"
    )
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="gopro-bench-"))
    rows: list[tuple[str, str, str, str]] = []
    try:
        for encoding in args.encodings:
            rows += bench_encoding(work, encoding, args)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'measure':<52} {'wall':>15} {'rate':>22} {'/ floor':>8}")
    print("-" * 100)
    for label, wall, rate, ratio in rows:
        print(f"{label:<52} {wall:>15} {rate:>22} {ratio:>8}")
    print(f"load average at the end {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
