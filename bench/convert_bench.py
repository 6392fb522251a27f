"""Conversion benchmark: throughput, time against a decode+encode baseline, and peak memory, from one run.

    python -m bench.convert_bench                      # default run, a few minutes on 2 cores
    python bench/convert_bench.py --fps 10 --codec h264 --duration 30 --long-duration 120

Everything is measured side by side in this one invocation, each measurement in its own subprocess
(ru_maxrss is per process, and no run inherits another's heap or warm caches):

1. throughput of `convert_dataset` with the Kuavo preset on a generated Kuavo-like bag (three JPEG cameras,
   640x480 at 30 Hz), at every `--fps` (default 10, the preset's train_hz, and 30: every camera frame kept);
2. conversion time / baseline time, where the baseline only decodes the same JPEGs the conversion kept
   (the camera message nearest to each emitted grid tick, preloaded into memory before timing) and encodes
   them with the same VideoEncoder class and settings, three encoders at once as the converter runs them;
3. peak RSS of converting the long bag / the short bag, same fps and codec;
4. peak RSS of the conversions against the 600 MB budget for three libsvtav1 640x480 cameras, next to the
   floor: a process that only feeds three encoders (VideoEncoder, same settings, same frame count and fps;
   synthetic frames, no JPEG, none of the package's other imports);
5. image mode (`camera_storage: image`, PNGs in parquet): one conversion of the short and of the long bag,
   wall and CPU time, peak RSS (target: long / short <= 1.15 and under 1 GB), peak disk use (and the largest
   files at that moment) and what is left on disk at the end. `--storage image` measures only this.

A last conversion runs under cProfile (main thread) to show where the time goes.

Generated bags are kept in --work-dir (default: a temp dir removed at the end) and reused by every run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import gc
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/convert_bench.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

PRESET = ROOT / "configs" / "kuavo.yaml"
REPO_ID = "bench/kuavo"
TIME_RATIO_TARGET = 1.3
RSS_RATIO_TARGET = 1.15
SVT_RSS_TARGET_MB = 600.0
IMAGE_RSS_TARGET_MB = 1024.0  # image mode (issue 10, item 8): under 1 GB, and flat (the same ratio target)
CHATTER = ("Svt[", "SVT [")  # SVT-AV1's banners; SVT_LOG=1 must keep them off the console
MB = 1024 * 1024


# -- helpers shared by the workers ---------------------------------------------------------------------


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process, encoders included
    return usage.ru_utime + usage.ru_stime


def _config(bag: Path, out: Path, fps: int, codec: str, storage: str = "video") -> Any:
    from dataprep.config import ConvertConfig, load_config

    overrides = [f"input.bags={json.dumps([str(bag)])}", f"output_root={json.dumps(str(out))}",
                 f"repo_id={REPO_ID}", f"fps={fps}", f"video.codec={codec}", f"camera_storage={storage}"]
    return load_config(ConvertConfig, PRESET, overrides)


class DiskWatch:
    """Samples the bytes under a folder every `interval` s: the peak, and the largest files at the peak.

    What is on disk at the peak (staged rows, the dataset being written, temp files) is what a run needs free.
    """

    def __init__(self, folder: Path, interval: float = 0.25) -> None:
        import threading

        self.folder, self.interval = Path(folder), interval
        self.peak = 0
        self.peak_files: list[tuple[int, str]] = []  # (size, path under folder), largest first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> int:
        files = []
        for folder, _dirs, names in os.walk(self.folder):
            for name in names:
                path = Path(folder) / name
                with contextlib.suppress(OSError):  # renamed or removed meanwhile
                    files.append((path.stat().st_size, str(path.relative_to(self.folder))))
        total = sum(size for size, _ in files)
        if total > self.peak:
            self.peak, self.peak_files = total, sorted(files, reverse=True)[:4]
        return total


def _video_settings(config: Any) -> Any:
    """The encoder settings the conversion uses (as build_schema derives them from the config)."""
    from dataprep.lerobot.video import VideoSettings

    v = config.video
    return VideoSettings(codec=v.codec, crf=v.crf, preset=v.preset, g=v.g)


# -- workers (each runs in its own subprocess) ---------------------------------------------------------


def work_convert(args: argparse.Namespace) -> dict[str, Any]:
    """One `convert_dataset` call with the Kuavo preset; optionally under cProfile."""
    from dataprep.conversion import convert_dataset
    from dataprep.memory.snapshot import peak_rss, take_snapshot

    config = _config(args.bag, args.out, args.fps, args.codec, args.camera_storage)
    shutil.rmtree(args.out, ignore_errors=True)  # staged results would make convert_bag skip the bag
    Path(args.out).mkdir(parents=True)
    gc.collect()
    idle_rss = take_snapshot().rss
    profiler = cProfile.Profile() if args.profile_out else None
    cpu0, t0 = _cpu_s(), time.perf_counter()
    if profiler:
        profiler.enable()
    with DiskWatch(Path(args.out)) as disk:
        report = convert_dataset(config)
        summary = report.dataset
        wall, cpu, peak = time.perf_counter() - t0, _cpu_s() - cpu0, peak_rss()
    if profiler:
        profiler.disable()
    if profiler:
        profiler.dump_stats(args.profile_out)
    (staged,) = report.bags  # its staging is gone once committed: the report holds the record
    return {"wall_s": wall, "cpu_s": cpu, "frames": summary.frames, "peak_rss": peak, "idle_rss": idle_rss,
            "span_s": list(staged.span_s), "sample_drop": config.timeline.sample_drop,
            "dataset": str(config.dataset_root), "storage": args.camera_storage, "peak_disk": disk.peak,
            "peak_files": disk.peak_files, "end_disk": disk.sample(),
            "dataset_disk": DiskWatch(config.dataset_root).sample(),
            "lazy_imported": [name for name in LAZY_IMPORTS if name in sys.modules]}


def _nearest(times: list[int], tick: int) -> int:
    import bisect

    i = bisect.bisect_left(times, tick)
    return min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - tick))


def _select_jpegs(config: Any, bag: Path, conv: dict[str, Any]) -> tuple[dict[str, list], dict[str, list]]:
    """Per camera key: the JPEG bytes (and frame numbers) nearest to each tick the conversion emitted.

    The aligner's grid starts at span_s[0] (relative to the bag start) with ticks t0 + k * 1e9 // fps; the
    first `sample_drop` ticks are trimmed, so emitted frame i sits at tick k = sample_drop + i.
    """
    import numpy as np

    from dataprep.rosbag import BagReader

    fps, frames = config.fps, conv["frames"]
    topics = {config.camera_key(name): cam.topic for name, cam in config.cameras.items()}
    with BagReader(bag) as reader:
        t0 = reader.start_ns + round(conv["span_s"][0] * 1e9)
        times: dict[str, list[int]] = {topic: [] for topic in topics.values()}
        for message in reader.messages(set(times)):  # pass 1: receive times only
            times[message.topic].append(message.time_ns)
        ticks = [t0 + (conv["sample_drop"] + i) * 1_000_000_000 // fps for i in range(frames)]
        wanted = {topic: [_nearest(ts, tick) for tick in ticks] for topic, ts in times.items()}
        keep = {topic: set(idx) for topic, idx in wanted.items()}
        payload: dict[str, dict[int, tuple[np.ndarray, int]]] = {topic: {} for topic in times}
        seen = dict.fromkeys(times, 0)
        for message in reader.messages(set(times)):  # pass 2: copy only the kept JPEGs
            n = seen[message.topic]
            seen[message.topic] += 1
            if n in keep[message.topic]:
                data = np.frombuffer(bytes(message.msg.data), dtype=np.uint8)
                payload[message.topic][n] = (data, int(message.msg.header.seq))
    jpegs = {key: [payload[topic][i][0] for i in wanted[topic]] for key, topic in topics.items()}
    numbers = {key: [payload[topic][i][1] for i in wanted[topic]] for key, topic in topics.items()}
    return jpegs, numbers


def _decode_encode(jpegs: dict[str, list], out: Path, fps: int, settings: Any) -> None:
    """The baseline's timed work: what the converter must do at the least, in the converter's thread layout."""
    import cv2

    from dataprep.lerobot.video import VideoEncoder

    keys = list(jpegs)
    height, width = cv2.imdecode(jpegs[keys[0]][0], cv2.IMREAD_COLOR).shape[:2]
    encoders = [VideoEncoder(out / f"{key}.mp4", fps, width, height, settings) for key in keys]
    for i in range(len(jpegs[keys[0]])):
        for key, encoder in zip(keys, encoders):
            encoder.write(cv2.imdecode(jpegs[key][i], cv2.IMREAD_COLOR_RGB))  # as the converter decodes
    for encoder in encoders:
        encoder.close()


def _matching_frames(dataset: Path, numbers: dict[str, list[int]]) -> tuple[int, int]:
    """How many of the conversion's video frames show the frame number of the JPEG the baseline chose."""
    from dataprep.lerobot.layout import video_file
    from dataprep.lerobot.video import read_video_frames
    from dataprep.sample.kuavo_bag import frame_number_from_image

    matched = total = 0
    for key, expected in numbers.items():
        decoded = [frame_number_from_image(f) for f in read_video_frames(dataset / video_file(key, 0, 0))]
        matched += sum(a == b for a, b in zip(decoded, expected))
        total += max(len(decoded), len(expected))
    return matched, total


def work_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """Decode + encode exactly the frames a finished conversion kept; JPEGs preloaded before timing."""
    import cv2  # noqa: F401  everything the timed part uses is imported before the clock starts

    from dataprep.lerobot.video import VideoEncoder  # noqa: F401
    from dataprep.memory.snapshot import peak_rss, take_snapshot

    config = _config(args.bag, args.out, args.fps, args.codec)
    conv = json.loads(Path(args.conversion).read_text())
    jpegs, numbers = _select_jpegs(config, Path(args.bag), conv)
    out = Path(args.out) / "baseline"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    gc.collect()
    idle_rss = take_snapshot().rss
    cpu0, t0 = _cpu_s(), time.perf_counter()
    _decode_encode(jpegs, out, config.fps, _video_settings(config))
    wall, cpu, peak = time.perf_counter() - t0, _cpu_s() - cpu0, peak_rss()
    matched, total = _matching_frames(Path(conv["dataset"]), numbers)
    return {"wall_s": wall, "cpu_s": cpu, "frames": len(next(iter(jpegs.values()))), "peak_rss": peak,
            "idle_rss": idle_rss, "matched": matched, "compared": total,
            "jpeg_mb": sum(a.size for arrs in jpegs.values() for a in arrs) / MB}


def _standalone_video_module() -> Any:
    """dataprep/lerobot/video.py loaded by file path, so the package facade (and what it imports) stays out.

    The floor must hold only the interpreter, numpy, PyAV and the encoders; the facade's imports are part of
    what the conversion costs, and what the floor is there to show.
    """
    import importlib.util

    name = "_bench_dataprep_video"
    spec = importlib.util.spec_from_file_location(name, ROOT / "dataprep" / "lerobot" / "video.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _floor_frame(index: int, height: int, width: int) -> Any:
    """A textured gradient with a bright block: what the encoders see of a camera, no JPEG involved."""
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width]
    texture = 6 * np.sin(xx * 0.27 + index) * np.sin(yy * 0.37)
    rgb = np.stack([40 + 150 * xx / width + texture, 60 + 140 * yy / height + texture,
                    170 - 80 * xx / width + texture], axis=-1)
    rgb[height // 3 : height // 2, width // 3 : width // 2] = 240
    return np.clip(rgb, 0, 255).astype(np.uint8)


def work_floor(args: argparse.Namespace) -> dict[str, Any]:
    """Only three encoders (VideoEncoder, the preset's settings) fed with moving frames: the memory floor."""
    import numpy as np

    from dataprep.memory.snapshot import peak_rss, take_snapshot

    video = _standalone_video_module()
    v = json.loads(args.video_settings)
    settings = video.VideoSettings(codec=v["codec"], crf=v["crf"], preset=v["preset"], g=v["g"])
    bases = [_floor_frame(i, args.height, args.width) for i in range(3)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gc.collect()
    idle_rss = take_snapshot().rss
    cpu0, t0 = _cpu_s(), time.perf_counter()
    encoders = [video.VideoEncoder(out / f"floor{i}.mp4", args.fps, args.width, args.height, settings)
                for i in range(len(bases))]
    for n in range(args.floor_frames):
        for base, encoder in zip(bases, encoders):
            encoder.write(np.roll(base, (3 * n, 5 * n), axis=(0, 1)))  # motion, so the encoder works
    for encoder in encoders:
        encoder.close()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - cpu0, "frames": args.floor_frames,
            "peak_rss": peak_rss(), "idle_rss": idle_rss, "streams": len(encoders)}


# Imported by finalize once (a per-process cost the time ratio leaves out) until finalize stopped needing
# `datasets`; pyarrow still imports pandas after the encoders close. A run records which it imported.
LAZY_IMPORTS = ("datasets", "pandas")


def work_imports(_args: argparse.Namespace) -> dict[str, Any]:
    """What finalize's one-time lazy imports cost in a process that has already imported the converter."""
    import importlib

    import dataprep.conversion  # noqa: F401 - the state finalize starts from

    t0 = time.perf_counter()
    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    return {"wall_s": time.perf_counter() - t0}


WORKERS = {"convert": work_convert, "baseline": work_baseline, "floor": work_floor, "imports": work_imports}


# -- the parent: bags, subprocesses, tables ------------------------------------------------------------


def _system_cpu() -> tuple[float, float]:
    """CPU seconds busy across the machine, and stolen by the hypervisor, so far."""
    import psutil

    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return busy, getattr(t, "steal", 0.0)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Runner:
    """Starts workers as subprocesses with silenced encoders and collects their JSON results.

    Each run also records the CPU time the rest of the machine used meanwhile ("other CPU"), and what the
    hypervisor stole, so a noisy neighbour shows up next to the numbers it spoiled.
    """

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args, self.count, self.chatter = work, args, 0, 0

    def run(self, kind: str, bag: Path, fps: int, *extra: str, keep: bool = False) -> dict[str, Any]:
        """Run one worker; its output folder is deleted afterwards unless `keep` (or --keep-outputs)."""
        self.count += 1
        result = self.work / f"result-{self.count:02d}-{kind}.json"
        out = self.work / f"out-{self.count:02d}"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--result", str(result),
               "--bag", str(bag), "--fps", str(fps), "--codec", self.args.codec, "--out", str(out),
               "--width", str(self.args.width), "--height", str(self.args.height), *extra]
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "SVT_LOG": "1", "PYTHONPATH": path}  # SVT reads it when an encoder opens
        (busy0, steal0), child0 = _system_cpu(), _children_cpu()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        (busy1, steal1), child1 = _system_cpu(), _children_cpu()
        noise = {"other_cpu_s": max(0.0, (busy1 - busy0) - (child1 - child0)), "steal_s": steal1 - steal0}
        lines = (proc.stdout + proc.stderr).splitlines()
        chatter = [line for line in lines if any(mark in line for mark in CHATTER)]
        self.chatter += len(chatter)
        other = [line for line in lines if line not in chatter]
        if proc.returncode != 0:
            sys.exit(f"{kind} worker failed ({proc.returncode}):\n" + "\n".join(other[-40:]))
        for line in other[:20]:  # warnings stay visible; encoder banners do not
            print(f"    [{kind}] {line}")
        data = {**json.loads(result.read_text()), **noise, "result_file": str(result), "out": str(out)}
        if not keep:
            self.remove(data)
        return data

    def remove(self, data: dict[str, Any]) -> None:
        if not self.args.keep_outputs:
            shutil.rmtree(data["out"], ignore_errors=True)


def ensure_bag(work: Path, duration: float, args: argparse.Namespace) -> Path:
    from dataprep.sample.kuavo_bag import KuavoBagSpec, write_kuavo_bag

    path = work / f"kuavo_{duration:g}s_{args.width}x{args.height}_30hz.bag"
    if path.exists():
        print(f"reusing {path.name} ({path.stat().st_size / MB:.0f} MB)")
        return path
    t0 = time.perf_counter()
    write_kuavo_bag(path, KuavoBagSpec(duration_s=duration, width=args.width, height=args.height, camera_hz=30))
    print(f"wrote {path.name}: {path.stat().st_size / MB:.0f} MB in {time.perf_counter() - t0:.1f} s")
    return path


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r["wall_s"])[(len(runs) - 1) // 2]


class Case:
    """One bag at one fps: conversion, its baseline and its encoder-only floor, measured side by side."""

    def __init__(self, bag: Path, seconds: float, fps: int) -> None:
        self.bag, self.seconds, self.fps = bag, seconds, fps
        self.convs: list[dict[str, Any]] = []
        self.bases: list[dict[str, Any]] = []
        self.floor: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.seconds:g}s @{self.fps}fps"

    @property
    def conv(self) -> dict[str, Any]:
        return _median_run(self.convs)

    @property
    def base(self) -> dict[str, Any] | None:
        return _median_run(self.bases) if self.bases else None

    def measure(self, runner: Runner, repeat: int, baseline: bool, floor: bool, settings: str) -> None:
        """Conversion and baseline alternate `repeat` times (each side keeps its median-wall run)."""
        print(f"{self.label}: convert{' + baseline' if baseline else ''} x{repeat}"
              f"{' + encoder floor' if floor else ''} ...", flush=True)
        for _ in range(repeat):
            conv = runner.run("convert", self.bag, self.fps, keep=True)  # the baseline checks its videos
            self.convs.append(conv)
            if baseline:
                self.bases.append(runner.run("baseline", self.bag, self.fps, "--conversion", conv["result_file"]))
            runner.remove(conv)
        if floor:  # as many frames per stream as the conversion encoded, at the same fps
            self.floor = runner.run("floor", self.bag, self.fps, "--video-settings", settings,
                                    "--floor-frames", str(self.conv["frames"]))


def _mb(value: float) -> str:
    return f"{value / MB:.0f}"


def _print_head(title: str, head: str) -> None:
    print(f"\n{title}")
    print(head)
    print("-" * len(head))


def print_throughput(cases: list[Case]) -> None:
    _print_head("Throughput (wall = the timed call only, imports excluded; median-wall run where repeated)",
                f"{'run':<30} {'frames':>6} {'images':>6} {'wall s':>7} {'frames/s':>8} {'images/s':>8} "
                f"{'x realtime':>10} {'CPU s':>6} {'peak RSS MB':>11} {'idle RSS MB':>11}")
    for case in cases:
        for name, r in (("convert", case.conv), ("baseline", case.base), ("  floor", case.floor)):
            if r is None:
                continue
            label = f"{name} {case.label}"
            print(f"{label:<30} {r['frames']:>6} {3 * r['frames']:>6} {r['wall_s']:>7.2f} "
                  f"{r['frames'] / r['wall_s']:>8.1f} {3 * r['frames'] / r['wall_s']:>8.1f} "
                  f"{case.seconds / r['wall_s']:>10.1f} {r['cpu_s']:>6.1f} {_mb(r['peak_rss']):>11} "
                  f"{_mb(r['idle_rss']):>11}")
    print("\nEvery run (wall s; other CPU s = what the rest of the machine used meanwhile, steal = hypervisor)")
    for case in cases:
        for name, runs in (("convert", case.convs), ("baseline", case.bases)):
            if runs:
                walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
                other = max(r["other_cpu_s"] for r in runs)
                steal = max(r["steal_s"] for r in runs)
                print(f"  {name:<8} {case.label:<12} [{walls}]  max other CPU {other:.1f} s, steal {steal:.1f} s")


Row = tuple[str, str, str, "bool | None"]


def time_rows(cases: list[Case], import_s: float) -> list[Row]:
    """Cold ratio as measured, and the ratio without finalize's one-time imports (a per-process cost)."""
    rows: list[Row] = []
    for case in cases:
        base = case.base
        if base is None:
            continue
        cold = case.conv["wall_s"] / base["wall_s"]
        imported = case.conv.get("lazy_imported", LAZY_IMPORTS)
        ratio = (case.conv["wall_s"] - (import_s if "datasets" in imported else 0.0)) / base["wall_s"]
        rows.append((f"time convert/baseline {case.label}", f"{ratio:.2f}", f"<= {TIME_RATIO_TARGET}",
                     ratio <= TIME_RATIO_TARGET))
        if "datasets" in imported:
            rows.append((f"  same, cold: incl. {import_s:.2f} s importing {'+'.join(LAZY_IMPORTS)}", f"{cold:.2f}",
                         "-", None))
        cpu = case.conv["cpu_s"] / base["cpu_s"]
        rows.append(("  CPU time convert/baseline (same runs)", f"{cpu:.2f}", "-", None))
        rows.append(("  baseline JPEGs = converted frames (by frame number)",
                     f"{base['matched']}/{base['compared']}", "all", base["matched"] == base["compared"]))
    return rows


def memory_rows(short: Case | None, long: Case | None) -> list[Row]:
    if short is None or long is None:
        return []
    ratio = long.conv["peak_rss"] / short.conv["peak_rss"]
    rows: list[Row] = [(f"peak RSS {long.seconds:g}s / {short.seconds:g}s bag @{short.fps}fps", f"{ratio:.3f}",
                        f"<= {RSS_RATIO_TARGET}", ratio <= RSS_RATIO_TARGET)]
    if short.floor and long.floor:
        floor_ratio = long.floor["peak_rss"] / short.floor["peak_rss"]
        rows.append((f"  floor (encoders only) {long.conv['frames']} / {short.conv['frames']} frames",
                     f"{floor_ratio:.3f}", "-", None))
        above = [(c.conv["peak_rss"] - c.floor["peak_rss"]) / MB for c in (long, short)]  # type: ignore[index]
        rows.append((f"  conversion above its floor, {long.seconds:g}s / {short.seconds:g}s",
                     f"{above[0]:.0f}/{above[1]:.0f} MB", "-", None))
    return rows


def budget_rows(cases: list[Case], codec: str) -> list[Row]:
    rows: list[Row] = []
    svt = codec == "libsvtav1"
    for case in cases:
        peak = case.conv["peak_rss"] / MB
        rows.append((f"peak RSS 3 cams {case.label} {codec}", f"{peak:.0f} MB",
                     f"<= {SVT_RSS_TARGET_MB:.0f} MB" if svt else "-", peak <= SVT_RSS_TARGET_MB if svt else None))
        if case.floor:
            floor = case.floor
            per = (floor["peak_rss"] - floor["idle_rss"]) / MB / floor["streams"]
            rows.append((f"  floor: 3 encoders only, {floor['frames']} frames each",
                         f"{floor['peak_rss'] / MB:.0f} MB", "-", None))
            rows.append(("  floor per stream ((peak - idle) / 3)", f"{per:.0f} MB", "-", None))
    return rows


def print_targets(rows: list[Row]) -> bool:
    width = max(len(r[0]) for r in rows)
    _print_head("Targets", f"{'measure':<{width}}  {'value':>11}  {'target':>10}  result")
    ok = True
    for name, value, target, passed in rows:
        verdict = "info" if passed is None else ("PASS" if passed else "FAIL")
        ok = ok and passed is not False
        print(f"{name:<{width}}  {value:>11}  {target:>10}  {verdict}")
    return ok


def print_profile(path: Path, top: int) -> None:
    """Main-thread cProfile: time blocked in queue.put / join is time the encoders were behind."""
    stats = pstats.Stats(str(path))
    entries = stats.stats.items()  # type: ignore[attr-defined]
    prefixes = (str(ROOT) + "/", *(p + "/" for p in sys.path if p.endswith("-packages")))

    def where(file: str, line: int, name: str) -> str:
        for prefix in prefixes:
            file = file.removeprefix(prefix)
        return f"{name} ({file}:{line})" if file != "~" else name

    for title, index, n in (("cumulative", 3, top), ("own time", 2, 10)):
        print(f"\ncProfile of one conversion, main thread only (encoder threads unseen), top {n} by {title}:")
        print(f"{'cum s':>7} {'own s':>7} {'calls':>7}  function")
        for (file, line, name), (_, ncalls, tottime, cumtime, _) in sorted(
                entries, key=lambda item: item[1][index], reverse=True)[:n]:
            print(f"{cumtime:7.2f} {tottime:7.2f} {ncalls:7d}  {where(file, line, name)}")


def machine_line() -> str:
    import psutil

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.machine()}, {cores} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM; Python {platform.python_version()}")


def git_line() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "git: unknown"
    return f"git {head}{' + uncommitted changes' if dirty else ''}"


def measure_image(runner: Runner, args: argparse.Namespace, bags: list[tuple[Path, float]]) -> list[Case]:
    """Image mode (PNG in parquet): one conversion of each bag at --memory-fps, no baseline or floor."""
    cases = []
    for bag, seconds in bags:
        case = Case(bag, seconds, args.memory_fps)
        print(f"image mode {case.label}: convert ...", flush=True)
        case.convs.append(runner.run("convert", bag, args.memory_fps, "--camera-storage", "image"))
        cases.append(case)
    return cases


def print_image(cases: list[Case]) -> None:
    _print_head("Image mode (camera_storage: image; PNGs in parquet; wall and peak RSS include finalize)",
                f"{'run':<24} {'frames':>6} {'wall s':>7} {'frames/s':>8} {'CPU s':>6} {'CPU/wall':>8} "
                f"{'peak RSS MB':>11} {'peak disk MB':>12} {'disk at end MB':>14} {'dataset MB':>10}")
    for case in cases:
        r = case.conv
        print(f"{'image ' + case.label:<24} {r['frames']:>6} {r['wall_s']:>7.1f} {r['frames'] / r['wall_s']:>8.1f} "
              f"{r['cpu_s']:>6.1f} {r['cpu_s'] / r['wall_s']:>8.2f} {_mb(r['peak_rss']):>11} "
              f"{_mb(r['peak_disk']):>12} {_mb(r['end_disk']):>14} {_mb(r['dataset_disk']):>10}")
    r = cases[-1].conv
    print(f"  largest files at the peak of disk use, image {cases[-1].label}: "
          + "; ".join(f"{path} {_mb(size)} MB" for size, path in r["peak_files"]))
    other = ", ".join(f"{c.conv['other_cpu_s']:.0f}" for c in cases)
    print(f"  CPU s the rest of the machine used meanwhile: {other}")


def image_rows(cases: list[Case]) -> list[Row]:
    rows: list[Row] = []
    if len(cases) == 2:
        short, long = cases
        ratio = long.conv["peak_rss"] / short.conv["peak_rss"]
        rows.append((f"image mode peak RSS {long.seconds:g}s / {short.seconds:g}s bag @{short.fps}fps",
                     f"{ratio:.3f}", f"<= {RSS_RATIO_TARGET}", ratio <= RSS_RATIO_TARGET))
    for case in cases:
        peak = case.conv["peak_rss"] / MB
        rows.append((f"image mode peak RSS {case.label}", f"{peak:.0f} MB", f"< {IMAGE_RSS_TARGET_MB:.0f} MB",
                     peak < IMAGE_RSS_TARGET_MB))
    for case in cases:
        copies = case.conv["end_disk"] / case.conv["dataset_disk"]
        rows.append((f"  image mode disk at end / dataset {case.label}", f"{copies:.2f}", "-", None))
    return rows


def run_all(args: argparse.Namespace, work: Path) -> bool:
    t_start = time.perf_counter()
    short_bag = ensure_bag(work, args.duration, args)
    long_bag = ensure_bag(work, args.long_duration, args) if args.long_duration else None
    v = _config(short_bag, work, args.memory_fps, args.codec).video
    settings = json.dumps({"codec": v.codec, "crf": v.crf, "preset": v.preset, "g": v.g})
    runner = Runner(work, args)
    video = "video" in args.storage
    fps_list = list(dict.fromkeys([*args.fps, *([args.memory_fps] if long_bag else [])])) if video else []
    cases = [Case(short_bag, args.duration, fps) for fps in fps_list]
    for case in cases:
        case.measure(runner, args.repeat, baseline=True, floor=args.floor, settings=settings)
    short_mem = next((c for c in cases if c.fps == args.memory_fps), None)
    long_case = None
    if long_bag is not None and video:
        long_case = Case(long_bag, args.long_duration, args.memory_fps)
        long_case.measure(runner, 1, baseline=args.long_baseline, floor=args.floor, settings=settings)
        cases.append(long_case)
    image_bags = [(short_bag, args.duration), *([(long_bag, args.long_duration)] if long_bag else [])]
    image = measure_image(runner, args, image_bags) if "image" in args.storage else []
    profile = args.profile and video
    if profile:
        print(f"profiling one conversion of {short_bag.name} at {args.fps[0]} fps ...", flush=True)
        runner.run("convert", short_bag, args.fps[0], "--profile-out", str(work / "convert.pstats"))
    rows: list[Row] = []
    if video:
        import_s = statistics.median(runner.run("imports", short_bag, args.fps[0])["wall_s"] for _ in range(3))
        print_throughput(cases)
        rows += [*time_rows(cases, import_s), *memory_rows(short_mem, long_case), *budget_rows(cases, args.codec)]
    if image:
        print_image(image)
        rows += image_rows(image)
    rows.append(("encoder chatter lines in all subprocesses' output", str(runner.chatter), "0", runner.chatter == 0))
    ok = print_targets(rows)
    if profile:
        print_profile(work / "convert.pstats", args.profile_top)
    print(f"\ntotal bench time {time.perf_counter() - t_start:.0f} s")
    return ok


def main_run(args: argparse.Namespace) -> int:
    os.environ["SVT_LOG"] = "1"
    import av

    print(f"convert_bench: {machine_line()}; PyAV {av.__version__}; {git_line()}")
    print(f"preset {PRESET.relative_to(ROOT)}, codec {args.codec}, 3 cameras {args.width}x{args.height} JPEG at "
          f"30 Hz, fps {args.fps}, repeat {args.repeat}, bags {args.duration:g}s and {args.long_duration:g}s\n")
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="convert-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        ok = run_all(args, work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok or not args.strict else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--duration", type=float, default=20.0, help="short bag, seconds (throughput, time ratio)")
    p.add_argument("--long-duration", type=float, default=200.0,
                   help="long bag, seconds, for the peak RSS ratio (0: skip)")
    p.add_argument("--fps", type=int, nargs="+", default=[10, 30], help="output fps values for the short bag")
    p.add_argument("--memory-fps", type=int, default=10, help="fps of the long bag and of the RSS ratio")
    p.add_argument("--codec", choices=["libsvtav1", "h264"], default="libsvtav1")
    p.add_argument("--storage", choices=["video", "image"], nargs="+", default=["video", "image"],
                   help="camera_storage modes to measure (image: peak RSS, time and disk of the short and long bag)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--repeat", type=int, default=3, help="conversion/baseline pairs per short-bag fps (median)")
    p.add_argument("--long-baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the baseline of the long bag")
    p.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                   help="run the encoder-only floor next to every conversion")
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                   help="run one more short conversion under cProfile and print where the main thread goes")
    p.add_argument("--profile-top", type=int, default=20)
    p.add_argument("--work-dir", help="keep generated bags here and reuse them (default: temp dir, removed)")
    p.add_argument("--keep-outputs", action="store_true", help="keep converted datasets in the work dir")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    # worker-only options
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--bag", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--conversion", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", help=argparse.SUPPRESS)
    p.add_argument("--video-settings", help=argparse.SUPPRESS)
    p.add_argument("--floor-frames", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--camera-storage", choices=["video", "image"], default="video", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.fps = args.fps[0]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args)
        Path(args.result).write_text(json.dumps(result))
        return 0
    return main_run(args)


if __name__ == "__main__":
    sys.exit(main())
