"""The episode writer's own cost per frame, without encoders: what a typed frame record could add to a conversion.

`python -m bench.frame_record_bench [--frames 20000] [--repeat 3] [--against /path/to/other/checkout]`

Writes one episode of vectors only (two 16-float features, no camera, so no encoder or PNG time hides the
writer's own work) through `EpisodeWriter.add_frame`, which both the code before the frame record and after it
offer, and prints CPU microseconds per frame (median of the repeats). With `--against`, the same measurement runs in
a subprocess on that checkout's code, alternating with this one, and the ratio is printed: this / other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]


def measure(frames: int) -> float:
    """CPU seconds (this process) per frame to stream `frames` frames into a staged episode and close it.

    CPU time, not wall: the machine is shared, and another process's load must not count as the writer's."""
    from dataprep.lerobot import DatasetSchema, EpisodeWriter, VectorFeature

    schema = DatasetSchema(fps=30, robot_type="bench", cameras=(),
                           vectors=(VectorFeature("observation.state", 16), VectorFeature("action", 16)))
    rng = np.random.default_rng(0)
    rows = [(rng.random(16, dtype=np.float32), rng.random(16, dtype=np.float32)) for _ in range(256)]
    with tempfile.TemporaryDirectory(prefix="frame-record-bench-") as tmp:
        start = time.process_time()
        with EpisodeWriter(Path(tmp) / "episode", schema, "t", "bench", chunk_size=1000) as writer:
            for i in range(frames):
                state, action = rows[i % len(rows)]
                writer.add_frame({"observation.state": state, "action": action}, {})
            writer.close()
        return (time.process_time() - start) / frames


def run_in(checkout: Path, frames: int) -> float:
    """`measure` in a fresh process importing `checkout`'s dataprep (this file is loaded by path, not from a
    package, so nothing of this checkout comes before `checkout` on the import path)."""
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('frame_record_bench', {str(Path(__file__))!r}); "
            "bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench); "
            f"import dataprep; print(dataprep.__file__); print(bench.measure({frames}))")
    env = os.environ | {"PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", code], cwd=checkout, env=env, capture_output=True, text=True,
                          check=True)
    where, seconds = done.stdout.strip().splitlines()[-2:]
    if not Path(where).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"measured {where}, not {checkout}")
    return float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout of the project to compare with")
    args = parser.parse_args()
    here: list[float] = []
    other: list[float] = []
    for _ in range(args.repeat):  # alternating, so a change of the machine's load hits both alike
        here.append(run_in(PROJECT, args.frames))
        if args.against:
            other.append(run_in(args.against, args.frames))
    result = {"frames": args.frames, "this_us_per_frame": [round(s * 1e6, 2) for s in here]}
    line = f"this checkout: {statistics.median(here) * 1e6:.1f} us/frame"
    if other:
        ratio = statistics.median(here) / statistics.median(other)
        result |= {"other_us_per_frame": [round(s * 1e6, 2) for s in other], "ratio": round(ratio, 3)}
        line += f"; {args.against}: {statistics.median(other) * 1e6:.1f} us/frame; this / other = {ratio:.3f}"
    print(line)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
