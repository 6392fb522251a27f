"""Validator benchmark: `flows.validate_dataset` on a 200 s 3-camera dataset against its conversion time.

    python -m bench.validate_bench --work-dir /tmp/benchwork      # reuses convert_bench's generated bags

One run, side by side: the 200 s Kuavo-like bag (three 640x480 JPEG cameras, convert_bench's generator) is
converted once with `configs/kuavo.yaml` at 10 fps in a subprocess (convert_bench's `convert` worker, only
the call timed), then the validator runs on the result `--repeat` times in each mode, as a user runs it: the
whole command, interpreter start and imports included; the default (every frame's timestamp demuxed, the
first and last frame of each span decoded) and `--decode-all` (every frame decoded), alternating.
Target: the default mode's median wall <= 1/10 of the conversion's; --decode-all is for information.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.convert_bench import Runner, ensure_bag, git_line, machine_line  # noqa: E402

TIME_RATIO_TARGET = 0.1


def validate_once(dataset: Path, *extra: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "flows.validate_dataset", str(dataset), "--json", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"validator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout)


def run(args: argparse.Namespace, work: Path) -> bool:
    print(f"validate_bench: {machine_line()}; {git_line()}")
    bag = ensure_bag(work, args.duration, args)
    runner = Runner(work, args)
    conversion = runner.run("convert", bag, args.fps, keep=True)
    dataset = Path(conversion["dataset"])
    try:
        runs: dict[str, list[float]] = {"": [], "--decode-all": []}
        reports = {}
        for _ in range(args.repeat):
            for flag, walls in runs.items():
                wall, reports[flag] = validate_once(dataset, *([flag] if flag else []))
                walls.append(wall)
    finally:
        runner.remove(conversion)
    report = reports[""]
    print(
        f"\ndataset: {report['episodes']} episode(s), {report['frames']} frames, "
        f"{report['videos']} video files "
        f"({args.duration:g} s bag, 3 cameras {args.width}x{args.height}, {args.fps} fps, {args.codec})"
    )
    print(f"{'run':<44}{'wall s':>8}  {'/ convert':>9}  findings  runs")
    print(f"{'convert (convert_dataset call)':<44}{conversion['wall_s']:>8.2f}  {'':>9}  -")
    ok = True
    for flag, walls in runs.items():
        wall = statistics.median(walls)
        ratio = wall / conversion["wall_s"]
        ok = ok and reports[flag]["ok"] and (ratio <= TIME_RATIO_TARGET or flag == "--decode-all")
        name = f"validate {flag} (whole command, median)".replace("  ", " ")
        print(
            f"{name:<44}{wall:>8.2f}  {ratio:>9.3f}  {len(reports[flag]['findings']):>8}  "
            f"{[round(w, 2) for w in walls]}"
        )
    print(
        f"\ntarget: validate / convert <= {TIME_RATIO_TARGET} (default mode; --decode-all for information), "
        f"no findings: {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=200.0, help="bag length, seconds")
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--codec", choices=["libsvtav1", "h264"], default="libsvtav1")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work-dir", help="keep the generated bag here and reuse it (default: temp dir, removed)")
    p.add_argument("--strict", action="store_true", help="exit 1 when the target fails")
    args = p.parse_args(argv)
    args.keep_outputs = False
    if args.work_dir:
        Path(args.work_dir).mkdir(parents=True, exist_ok=True)
        ok = run(args, Path(args.work_dir))
    else:
        with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
            ok = run(args, Path(tmp))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
