"""Memory estimates against measured peak RSS: bag conversions, the HDF5 replay sampler, the GoPro loader.

`python -m bench.memory_bench` generates its inputs in a temp dir, runs every case in fresh processes (each
reports its own VmHWM) and prints estimate, measurement, error and PASS/FAIL against 15%.
`python -m bench.memory_bench --calibrate` measures the coefficients instead and rewrites
dataprep/memory/coefficients.json (commit it): rerun it after changing the writer, the encoders or the readers.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from dataprep.config import ConvertConfig, GoproPrepareConfig, Hdf5IndexConfig, load_config
from dataprep.conversion.memory_figures import read_bag_figures
from dataprep.conversion.memory_plan import buffered_rows, estimate_conversion
from dataprep.conversion.memory_sweep import measure_conversion
from dataprep.gopro import SpikeGeometry, prepare_tree
from dataprep.hdf5 import IndexTables, build_index
from dataprep.memory import MB, Coefficients, load_coefficients, read_system
from dataprep.memory.coefficients import COEFFICIENTS_PATH, EncoderCoefficients
from dataprep.memory.estimators import gopro_sample_bytes, replay_sampler_bytes
from dataprep.memory.measure import measure_python
from dataprep.memory.strategy import gopro_loader_settings
from dataprep.sample import (
    GoproTreeSpec,
    KuavoBagSpec,
    ReplayFileSpec,
    write_gopro_tree,
    write_kuavo_bag,
    write_replay_file,
)

PROJECT = Path(__file__).resolve().parents[1]
TARGET = 0.15  # estimates within 15% of the measured peak
CAMERAS = ("head_cam_h", "wrist_cam_l", "wrist_cam_r")
READER_IMPORTS = "import numpy, h5py, cv2, dataprep.hdf5, dataprep.gopro"


def bag_config(bag: Path, out: Path, chunk: int, storage: str, codec: str = "libsvtav1",
               cameras: int = 3) -> ConvertConfig:
    config = load_config(ConvertConfig, PROJECT / "configs" / "kuavo.yaml", [
        f"input.bags={bag}", f"output_root={out}", "repo_id=bench/memory", "task=bench", f"chunk_size={chunk}",
        f"camera_storage={storage}", f"video.codec={codec}"])
    return config.model_copy(update={"cameras": {k: v for k, v in config.cameras.items() if k in CAMERAS[:cameras]}})


def peak_of(config: ConvertConfig, bag: Path, workers: int = 1) -> int:
    """Peak RSS summed over `workers` conversions run at once, each into its own output."""
    configs = [config.model_copy(update={"output_root": config.output_root / f"w{i}"}) for i in range(workers)]
    return measure_conversion(configs, bag).peak


# -- calibration --------------------------------------------------------------------------------------------

def calibrate(work: Path) -> Coefficients:
    """Fit the coefficients to conversions of short generated bags, one fresh process each."""
    small = write_kuavo_bag(work / "cal320.bag", KuavoBagSpec(duration_s=32.0, width=320, height=240))
    large = write_kuavo_bag(work / "cal640.bag", KuavoBagSpec(duration_s=32.0))
    points: list[dict] = []

    def point(name: str, config: ConvertConfig, bag: Path) -> int:
        peak = peak_of(config, bag)
        points.append({"run": name, "peak_mb": round(peak / MB, 1)})
        print(f"  {name}: {peak / MB:.0f} MB", file=sys.stderr)
        return peak

    base = point("image, 1 camera 320x240, chunk 1", bag_config(small, work / "o-base", 1, "image", cameras=1), small)
    encoders = {}
    for codec in ("libsvtav1", "h264"):
        per = {}
        for bag, pixels in ((small, 320 * 240), (large, 640 * 480)):
            peak = point(f"video {codec}, 3 cameras {pixels} px, chunk 10",
                         bag_config(bag, work / f"o-{codec}-{pixels}", 10, "video", codec), bag)
            per[pixels] = (peak - base) / 3 / MB
        slope = (per[640 * 480] - per[320 * 240]) / ((640 * 480 - 320 * 240) / 1e6)
        encoders[codec] = EncoderCoefficients(round(per[320 * 240] - slope * 320 * 240 / 1e6, 2), round(slope, 1))
    chunk = 200  # under the bag's ~316 frames: the buffer fills up once
    image = bag_config(large, work / "o-image", chunk, "image")
    held = point(f"image, 3 cameras 640x480, chunk {chunk}", image, large) - base
    figures = read_bag_figures(image, [large])
    png = sum(c.png_bytes for c in figures.cameras.values())
    ratio = round((held / buffered_rows(chunk, png) - figures.vector_bytes) / png, 3)
    reader = measure_python(READER_IMPORTS)
    points.append({"run": "reader process (numpy, h5py, cv2, dataprep readers)", "peak_mb": round(reader / MB, 1)})
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Coefficients(round(base / MB, 1), encoders, ratio, round(reader / MB, 1),
                        measured=f"{stamp} on {platform.node()} ({platform.machine()}, Python "
                                 f"{platform.python_version()})",
                        points=tuple(points))


# -- comparison ---------------------------------------------------------------------------------------------

def bag_cases(work: Path, coefficients: Coefficients) -> list[tuple[str, int, int]]:
    """(case, estimate, measured): 2 chunk sizes x 1-2 workers on a 640x480 video bag; 2 chunks in image mode."""
    large = write_kuavo_bag(work / "k640.bag", KuavoBagSpec(duration_s=32.0))
    small = write_kuavo_bag(work / "k320.bag", KuavoBagSpec(duration_s=32.0, width=320, height=240))
    cases = []
    for bag, storage, runs in ((large, "video", ((30, 1), (300, 1), (30, 2), (300, 2))),
                               (small, "image", ((30, 1), (300, 1)))):
        for chunk, workers in runs:
            config = bag_config(bag, work / f"o-{storage}-{chunk}-{workers}", chunk, storage)
            figures = read_bag_figures(config, [bag])
            estimate = estimate_conversion(config, figures, chunk, workers, coefficients).need
            name = f"bag {bag.stem} {storage}, chunk {chunk}, {workers} worker(s)"
            cases.append((name, estimate, peak_of(config, bag, workers)))
    return cases


def replay_case(work: Path, coefficients: Coefficients) -> tuple[str, int, int]:
    batch, size, prefetch = 64, 224, 2
    source = write_replay_file(work / "replay.h5", ReplayFileSpec(rows=600, height=size, width=size))
    config = Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": [str(source)]}],
                                             "output_root": str(work / "index")})
    build_index(config)
    tables = IndexTables.load(config.output_root)
    index = sum(column.nbytes for column in tables.samples.values())
    estimate = int(coefficients.reader_base_mb * MB) + replay_sampler_bytes(index, batch, size, prefetch)
    code = (f"import time\nfrom dataprep.hdf5 import ReplaySampler\n"  # sleep: a training step; the queue fills
            f"with ReplaySampler({str(config.output_root)!r}, prefetch={prefetch}, image_size={size}) as s:\n"
            f"    for _ in range(40):\n        batch = s.sample({batch})\n        time.sleep(0.05)\n")
    return f"ReplaySampler batch {batch} at {size} px, prefetch {prefetch}", estimate, measure_python(code)


def gopro_cases(work: Path, coefficients: Coefficients) -> list[tuple[str, int, int]]:
    """The loader with the cache a preload plan gives (the whole split) and with half of it (lazy)."""
    spike = {"encoding": "bitpacked", "frames": 16, "height": 360, "width": 640}
    frames = [f"{i:06d}" for i in range(24)]
    spec = GoproTreeSpec({"train/GOPR0001_00_00": frames, "train/GOPR0002_00_00": frames}, image_size=(360, 640),
                         folders=("blur", "sharp"))
    config = GoproPrepareConfig.model_validate({
        "gopro_root": str(work / "gopro"), "spike_root": str(work / "spike"), "output_root": str(work / "prepared"),
        "spike": spike, "voxels": {"bins": 4}, "workers": 1})
    spec = replace(spec, geometry=SpikeGeometry.from_spec(config.spike))
    write_gopro_tree(config.gopro_root, config.spike_root, spec)
    prepare_tree(config)
    sample = gopro_sample_bytes(360, 640, 4, 360, 640, "float32")
    total = sample * 2 * len(frames)
    cases = []
    for label, cache in (("preload plan", gopro_loader_settings(total, read_system().available).cache_bytes),
                         ("half the split", total // 2)):
        estimate = int(coefficients.reader_base_mb * MB) + min(cache, total) + sample  # + the sample in hand
        code = (f"import json\nfrom dataprep.config import GoproPrepareConfig\nfrom dataprep.gopro import "
                f"GoproSpikeDataset\n"
                f"config = GoproPrepareConfig.model_validate(json.loads({config.model_dump_json()!r}))\n"
                f"ds = GoproSpikeDataset.from_config(config, 'train', cache_bytes={cache})\n"
                f"for _ in range(2):\n    for i in range(len(ds)):\n        sample = ds[i]\n")
        cases.append((f"GoPro loader, {len(frames) * 2} samples, cache {cache / MB:.0f} MB ({label})", estimate,
                       measure_python(code)))
    return cases


def table(cases: list[tuple[str, int, int]]) -> str:
    lines = ["| case | estimate MB | measured peak RSS MB | error | within 15% |", "|---|---|---|---|---|"]
    for name, estimate, measured in cases:
        error = (estimate - measured) / measured
        lines.append(f"| {name} | {estimate / MB:.0f} | {measured / MB:.0f} | {100 * error:+.1f}% | "
                     f"{'PASS' if abs(error) <= TARGET else 'FAIL'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibrate", action="store_true", help=f"measure and rewrite {COEFFICIENTS_PATH.name}")
    parser.add_argument("--only", choices=("bags", "replay", "gopro"), action="append", help="run these cases")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        work = Path(tmp)
        if args.calibrate:
            coefficients = calibrate(work)
            COEFFICIENTS_PATH.write_text(json.dumps(coefficients.to_json(), indent=2) + "\n", encoding="utf-8")
            print(json.dumps(coefficients.to_json(), indent=2))
            return 0
        coefficients = load_coefficients()
        only = set(args.only or ("bags", "replay", "gopro"))
        cases = []
        if "bags" in only:
            cases += bag_cases(work, coefficients)
        if "replay" in only:
            cases.append(replay_case(work, coefficients))
        if "gopro" in only:
            cases += gopro_cases(work, coefficients)
    print(f"coefficients: {coefficients.measured}\n{table(cases)}")
    return 0 if all(abs(e - m) / m <= TARGET for _, e, m in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
