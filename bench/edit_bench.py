"""Dataset edits: each operation's wall time against copying the dataset's bytes once, and its peak memory.

`python -m bench.edit_bench [--bags 6] [--seconds 6] [--size 320 240] [--work-dir DIR]`

Converts `--bags` generated Kuavo-like bags (three AV1 cameras, 320x240 by default, 10 fps, files shared by
episodes with lerobot's default packing limits), then times, each in a fresh subprocess (peak RSS is per process) on its
own copy of the dataset: trim of episode 1 at a keyframe (packet copy) and off one (that episode re-encoded),
delete of episode 1, split (val: episodes 1 and 3) and merge (of that split's two parts, made beforehand).
The yardstick, measured in the same run, is `shutil.copytree` of the dataset (its bytes read and written once).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
OPERATIONS = {
    "trim (keyframe cut)": ["trim", "{root}", "--episode", "1", "--frames", "2:-2"],
    "trim (re-encode)": ["trim", "{root}", "--episode", "1", "--frames", "3:-2"],
    "delete": ["delete", "{root}", "--episodes", "1"],
    "split": ["split", "{root}", "--val-episodes", "1,3", "--into", "{out}/train", "{out}/val"],
    "merge": ["merge", "{out}/train", "{out}/val", "--into", "{out}/merged"],  # the split's two parts
}
# The operation alone is timed (imports before the clock starts). Peak RSS is VmHWM, which starts afresh at exec:
# ru_maxrss would carry over the bench process's own peak (it converted the dataset) through fork and exec.
MEASURE = """
import sys, time
from flows.edit_dataset import main
import dataprep.edit.build, av, cv2  # what the operation would import anyway

def peak_mb():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

imported = peak_mb()
start = time.perf_counter()
code = main(sys.argv[1:])
print(time.perf_counter() - start, imported, peak_mb(), code)
"""


def make_dataset(work: Path, bags: int, seconds: float, size: tuple[int, int]) -> Path:
    from dataprep.config import ConvertConfig, load_config
    from dataprep.conversion import convert_dataset
    from dataprep.sample import KuavoBagSpec, write_kuavo_bag

    spec = KuavoBagSpec(duration_s=seconds, width=size[0], height=size[1])
    paths = [write_kuavo_bag(work / "bags" / f"b{i}.bag", spec) for i in range(bags)]
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml", [
        f"input.bags={[str(p) for p in paths]}", f"output_root={work / 'out'}", "repo_id=bench/edit"])
    return convert_dataset(config).dataset.root


def size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bags", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--size", type=int, nargs=2, default=(320, 240), metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="edit-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        source = make_dataset(work, args.bags, args.seconds, tuple(args.size))
        start = time.perf_counter()
        shutil.copytree(source, work / "copy")
        copy_s = time.perf_counter() - start
        print(f"dataset: {args.bags} episodes, {size_mb(source):.1f} MB; copying its bytes once: {copy_s:.3f} s")
        print(f"{'operation':<22}{'wall s':>8}{'/ copy':>8}{'peak RSS MB':>13}{'after imports':>15}")
        results = {}
        for name, template in OPERATIONS.items():
            case = work / name.replace(" ", "_").replace("(", "").replace(")", "")
            shutil.copytree(source, case / "ds")
            if name == "merge":  # its input: the two parts of a split, not timed
                from dataprep.edit import split_dataset

                split_dataset(case / "ds", (case / "train", case / "val"), val_episodes=[1, 3])
            command = [part.format(root=case / "ds", out=case) for part in template]
            done = subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=PROJECT, capture_output=True,
                                  text=True, check=True)
            wall, imported, rss, code = done.stdout.split()[-4:]
            assert code == "0", done.stderr
            results[name] = {"wall_s": float(wall), "ratio": float(wall) / copy_s, "peak_rss_mb": float(rss),
                             "rss_after_imports_mb": float(imported)}
            row = f"{float(wall):>8.2f}{float(wall) / copy_s:>8.1f}{float(rss):>13.0f}{float(imported):>15.0f}"
            print(f"{name:<22}{row}")
        print(json.dumps({"copy_s": copy_s, "dataset_mb": size_mb(source), **results}))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
