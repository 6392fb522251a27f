"""Parallel bags benchmark: 8 Kuavo-like bags with 1 worker and with `max_workers: auto`, video and image mode.

    python -m bench.parallel_bench                          # 8 bags of 3-20 s, 640x480 cameras
    python bench/parallel_bench.py --durations 5 10 20 40 --width 320 --height 240 --modes video

Every run is `convert_dataset` (the library path a one-off takes) in its own subprocess, side by side in this one
invocation. Per run: wall time; CPU seconds of the whole process tree (this process is made a child subreaper, so
the pool's workers, forked by the forkserver, are reaped here and counted in RUSAGE_CHILDREN); the peak RSS of
the main process (ru_maxrss) and of each pool worker (sampled with psutil every 0.1 s), and the peak of their sum;
and the CPU the rest of the machine used meanwhile ("other CPU"), so a shared machine shows next to the numbers.

Targets, for the `auto` runs: wall <= 1.1 x (CPU seconds / cores), i.e. the cores kept busy; peak RSS of the whole
tree <= workers x the 1-worker run's peak + 100 MB.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/parallel_bench.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from bench.convert_bench import CHATTER, _system_cpu, git_line, machine_line  # noqa: E402

PRESET = ROOT / "configs" / "kuavo.yaml"
WALL_TARGET = 1.1  # wall <= this x CPU seconds / cores
RSS_SLACK_MB = 100.0  # peak RSS of the tree <= workers x one bag's + this
PR_SET_CHILD_SUBREAPER = 36
MB = 1024 * 1024


# -- the measured subprocess ---------------------------------------------------------------------------


class TreeSampler:
    """Peak RSS per process of this process's tree, and of their sum, sampled every `interval_s`."""

    def __init__(self, interval_s: float = 0.1) -> None:
        import psutil

        self.me = psutil.Process()
        self.peaks: dict[int, int] = {}
        self.workers: set[int] = set()  # forked by the forkserver: grandchildren, not our children
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        import psutil

        while not self._stop.wait(interval_s):
            total = self.me.memory_info().rss
            for child in self.me.children(recursive=True):
                try:
                    rss, parent = child.memory_info().rss, child.ppid()
                except psutil.Error:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
                total += rss
                if parent != self.me.pid:
                    self.workers.add(child.pid)
            self.peak_total = max(self.peak_total, total)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def work(args: argparse.Namespace) -> dict[str, Any]:
    from dataprep.config import ConvertConfig, load_config
    from dataprep.conversion import convert_dataset, plan_conversion
    from dataprep.conversion.workers import plan_bag_workers
    from dataprep.memory.snapshot import peak_rss

    overrides = [f"input.bags={json.dumps([str(args.bags)])}", f"output_root={json.dumps(str(args.out))}",
                 "repo_id=bench/parallel", f"camera_storage={args.mode}", f"max_workers={args.workers}",
                 f"video.codec={args.codec}"]
    config = load_config(ConvertConfig, PRESET, overrides)
    shutil.rmtree(args.out, ignore_errors=True)
    bags = len(list(args.bags.glob("*.bag")))
    workers = plan_bag_workers(plan_conversion(config).config, bags).workers  # as convert_dataset decides
    with TreeSampler() as sampler:
        t0 = time.perf_counter()
        report = convert_dataset(config)
        wall = time.perf_counter() - t0
    worker_peaks = sorted(sampler.peaks[pid] for pid in sampler.workers)[-workers:] if workers > 1 else []
    main_peak = peak_rss()
    return {"wall_s": wall, "frames": report.dataset.frames, "episodes": report.dataset.episodes,
            "workers": workers, "main_peak": main_peak, "worker_peaks": worker_peaks,
            "tree_peak": max(sampler.peak_total, main_peak)}


# -- the parent ----------------------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_orphans() -> None:
    """Wait for whatever the measured run left to this subreaper (the forkserver), so its CPU is counted."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def measure(args: argparse.Namespace, work_dir: Path, mode: str, workers: str) -> dict[str, Any]:
    out, result = work_dir / f"out-{mode}-{workers}", work_dir / f"result-{mode}-{workers}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--bags", str(work_dir / "bags"),
           "--mode", mode, "--workers", workers, "--codec", args.codec, "--out", str(out), "--result", str(result)]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "SVT_LOG": "1", "PYTHONPATH": path}
    (busy0, _), child0, t0 = _system_cpu(), _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    _reap_orphans()
    (busy1, _), child1, whole = _system_cpu(), _children_cpu(), time.perf_counter() - t0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if not any(m in line for m in CHATTER)]
    if proc.returncode != 0:
        sys.exit(f"{mode} x{workers} failed ({proc.returncode}):\n" + "\n".join(lines[-40:]))
    shutil.rmtree(out, ignore_errors=True)
    cpu = child1 - child0
    return {**json.loads(result.read_text()), "cpu_s": cpu, "process_s": whole,
            "other_cpu_s": max(0.0, (busy1 - busy0) - cpu), "label": workers}


def ensure_bags(folder: Path, args: argparse.Namespace) -> None:
    from dataprep.sample.kuavo_bag import KuavoBagSpec, write_kuavo_bag

    folder.mkdir(parents=True, exist_ok=True)
    for i, seconds in enumerate(args.durations):
        path = folder / f"bag_{i:02d}_{seconds:g}s_{args.width}x{args.height}.bag"
        if not path.exists():
            write_kuavo_bag(path, KuavoBagSpec(duration_s=seconds, width=args.width, height=args.height,
                                               camera_hz=30))
    sizes = sum(p.stat().st_size for p in folder.glob("*.bag")) / MB
    print(f"{len(args.durations)} bags of {', '.join(f'{d:g}' for d in args.durations)} s, 3 cameras "
          f"{args.width}x{args.height} JPEG at 30 Hz, {sizes:.0f} MB")


def report(mode: str, one: dict[str, Any], auto: dict[str, Any], cores: int) -> bool:
    print(f"\n{mode} mode ({one['episodes']} episodes, {one['frames']} frames)")
    print(f"{'run':<10} {'workers':>7} {'wall s':>7} {'CPU s':>7} {'CPU/cores':>9} {'speedup':>7} "
          f"{'main MB':>8} {'per worker MB':>22} {'tree MB':>8} {'other CPU s':>11}")
    for run in (one, auto):
        per_worker = " ".join(f"{p / MB:.0f}" for p in sorted(run["worker_peaks"])) or "-"
        print(f"{run['label']:<10} {run['workers']:>7} {run['wall_s']:>7.1f} {run['cpu_s']:>7.1f} "
              f"{run['cpu_s'] / cores:>9.1f} {one['wall_s'] / run['wall_s']:>7.2f} {run['main_peak'] / MB:>8.0f} "
              f"{per_worker:>22} {run['tree_peak'] / MB:>8.0f} {run['other_cpu_s']:>11.1f}")
    wall_limit = WALL_TARGET * auto["cpu_s"] / cores
    rss_limit = auto["workers"] * one["main_peak"] / MB + RSS_SLACK_MB
    checks = [
        ((f"wall {auto['wall_s']:.1f} s <= {WALL_TARGET} x CPU {auto['cpu_s']:.1f} s / {cores} cores = "
         f"{wall_limit:.1f} s"), auto["wall_s"] <= wall_limit),
        ((f"peak RSS of the tree {auto['tree_peak'] / MB:.0f} MB <= {auto['workers']} x one bag's "
         f"{one['main_peak'] / MB:.0f} MB + {RSS_SLACK_MB:.0f} MB = {rss_limit:.0f} MB"),
         auto["tree_peak"] / MB <= rss_limit),
    ]
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'} {mode} auto: {text}")
    return all(ok for _, ok in checks)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.parallel_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[3, 4, 5, 6, 8, 10, 15, 20],
                        help="seconds of each generated bag (default: 8 bags, 3-20 s)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--modes", nargs="+", choices=["video", "image"], default=["video", "image"])
    parser.add_argument("--codec", choices=["libsvtav1", "h264"], default="libsvtav1")
    parser.add_argument("--work-dir", type=Path, help="keeps the generated bags for reuse (default: a temp dir)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--bags", "--out", "--result"):
        parser.add_argument(name, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--workers", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        args.result.write_text(json.dumps(work(args)))
        return 0
    from dataprep.memory import cpu_count

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)  # the pool's orphans come back here
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="parallel-bench-"))
    print(f"parallel_bench: {machine_line()}; {git_line()}")
    try:
        ensure_bags(work_dir / "bags", args)
        ok = True
        for mode in args.modes:
            one = measure(args, work_dir, mode, "1")
            auto = measure(args, work_dir, mode, "auto")
            ok = report(mode, one, auto, cpu_count()) and ok
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
