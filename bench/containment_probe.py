"""Containment probes: hostile and careless inputs run through the real command line, one row each.

    python -m bench.containment_probe                  # ~2 minutes; the table for docs/containment.md
    python -m bench.containment_probe --work-dir /tmp/probe

Each probe builds its input beside one good bag (or HDF5 file, or GoPro tree), runs
`python -m flows.convert_all --local --config PIPELINE` in a fresh process with a deadline (a hang is a row
that says so), and records the exit status, the console's line naming the input, whether a traceback reached
the console, and whether data already written was lost (the committed dataset's files, compared before and
after, where the probe has one).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import yaml

from dataprep.sample import (
    GoproTreeSpec,
    ReplayFileSpec,
    Ros2BagSpec,
    write_gopro_tree,
    write_replay_file,
    write_ros2_bag,
)

PROJECT = Path(__file__).resolve().parents[1]
DEADLINE_S = 120


class Probe(NamedTuple):
    name: str
    build: Callable[[Path], dict[str, object]]  # work folder -> the pipeline configuration
    needle: str  # the input's name, to find its console line
    breaks: Callable[[Path], None] | None = None  # run `build` once cleanly, then this, then rerun: data lost?
    kept: str = "out/**/*"  # what must be unchanged by the rerun (a glob under the work folder)


class Row(NamedTuple):
    probe: str
    exit: str
    line: str
    traceback: bool
    lost: str


def bag_section(bags: str | list[str], out: Path, policy: str) -> dict[str, object]:
    return {"rosbag_to_lerobot": {
        "input": {"bags": bags}, "output_root": str(out), "repo_id": "probe/set", "fps": 5, "task": "t",
        "on_bag_error": policy, "cameras": {"front": {"topic": "/camera/image_raw"}},
        "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}}}}


def good_bags(work: Path) -> Path:
    folder = work / "bags"
    write_ros2_bag(folder / "good", Ros2BagSpec(duration_s=1.0, width=32, height=24))
    return folder


def clean(policy: str) -> Callable[[Path], dict[str, object]]:
    def build(work: Path) -> dict[str, object]:
        if not (work / "bags").exists():
            good_bags(work)
        return bag_section(str(work / "bags"), work / "out", policy)
    return build


def adding(make: Callable[[Path], None], name: str) -> Callable[[Path], None]:
    return lambda work: make(work / "bags" / name)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def sock(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()


def loop(path: Path) -> None:
    path.symlink_to(path.name)


def dangling(path: Path) -> None:
    path.symlink_to("gone")


def empty(path: Path) -> None:
    path.mkdir()


def broken_ros2(path: Path) -> None:
    path.mkdir()
    (path / "metadata.yaml").symlink_to("../gone.yaml")


def url(work: Path) -> dict[str, object]:
    good_bags(work)
    return bag_section(["https://example.org/run_1.bag"], work / "out", "skip")


def twice(work: Path) -> dict[str, object]:
    folder = good_bags(work)
    return bag_section([str(folder / "good"), str(folder / ".." / "bags" / "good")], work / "out", "skip")


def all_fail(work: Path) -> dict[str, object]:
    folder = work / "bags"
    folder.mkdir(parents=True)
    fifo(folder / "a.bag")
    (folder / "b.mcap").write_bytes(b"not an mcap file")
    return bag_section(str(folder), work / "out", "skip")


def touch_good(work: Path) -> None:
    storage = next((work / "bags" / "good").glob("*.mcap"))
    os.utime(storage, ns=(storage.stat().st_atime_ns, storage.stat().st_mtime_ns + 10**9))


def truncated_h5(work: Path) -> dict[str, object]:
    folder = work / "replay"
    write_replay_file(folder / "good.h5", ReplayFileSpec(rows=40, height=8, width=8))
    cut = write_replay_file(folder / "cut.h5", ReplayFileSpec(rows=400, height=16, width=16))
    with cut.open("r+b") as f:
        f.truncate(cut.stat().st_size // 2)
    return {"hdf5_index": {"sources": [{"kind": "replay", "paths": str(folder)}], "output_root": str(work / "index")}}


def fifo_h5(work: Path) -> dict[str, object]:
    folder = work / "replay"
    write_replay_file(folder / "good.h5", ReplayFileSpec(rows=40, height=8, width=8))
    os.mkfifo(folder / "pipe.h5")
    return {"hdf5_index": {"sources": [{"kind": "replay", "paths": str(folder)}], "output_root": str(work / "index")}}


def gopro(work: Path) -> dict[str, object]:
    if not (work / "gopro").exists():
        write_gopro_tree(work / "gopro", work / "spike", GoproTreeSpec({"train/seq": ["000001", "000002"]}))
    return {"gopro_prepare": {"gopro_root": str(work / "gopro"), "spike_root": str(work / "spike"),
                              "output_root": str(work / "out"), "voxels": {"bins": 2},
                              "spike": {"encoding": "bytes", "frames": 4, "height": 6, "width": 8}}}


def fifo_spike(work: Path) -> None:
    spike = work / "spike/train/seq/spike/000002.dat"
    spike.unlink()
    os.mkfifo(spike)


PROBES = [
    Probe("FIFO `x.bag` in the input folder, skip", clean("skip"), "x.bag", adding(fifo, "x.bag")),
    Probe("FIFO `x.bag` in the input folder, fail", clean("fail"), "x.bag", adding(fifo, "x.bag")),
    Probe("socket `s.bag`, fail", clean("fail"), "s.bag", adding(sock, "s.bag")),
    Probe("link to /dev/zero `z.bag`, fail", clean("fail"), "z.bag",
          adding(lambda p: p.symlink_to("/dev/zero"), "z.bag")),
    Probe("symlink loop in the input folder, skip", clean("skip"), "loop", adding(loop, "loop")),
    Probe("symlink loop in the input folder, fail", clean("fail"), "loop", adding(loop, "loop")),
    Probe("dangling link `d.bag`, fail", clean("fail"), "d.bag", adding(dangling, "d.bag")),
    Probe("empty folder `e.bag`, skip", clean("skip"), "e.bag", adding(empty, "e.bag")),
    Probe("empty folder `e.bag`, fail", clean("fail"), "e.bag", adding(empty, "e.bag")),
    Probe("broken rosbag2 folder, fail", clean("fail"), "broken", adding(broken_ros2, "broken")),
    Probe("bag path given as a URL", url, "example.org"),
    Probe("one bag listed twice through `..`", twice, "good"),
    Probe("every bag fails under skip", all_fail, "nothing to assemble"),
    Probe("committed bag changed, append rerun", clean("fail"), "CHANGED", touch_good),
    Probe("truncated `.h5` among the sources", truncated_h5, "cut.h5"),
    Probe("FIFO `pipe.h5` among the sources", fifo_h5, "pipe.h5"),
    Probe("GoPro tree: a spike `.dat` replaced by a FIFO, rerun", gopro, "frame(s) left out", fifo_spike,
          "out/**/000001*"),  # the other frame's links and voxel; the FIFO's frame is left out, with its reason
    Probe("GoPro tree: rerun that changes nothing", gopro, "links were created", lambda _work: None),
]


def run(config: dict[str, object], work: Path) -> tuple[str, str]:
    pipeline = work / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect")}
    env.pop("PREFECT_API_URL", None)
    try:
        done = subprocess.run([sys.executable, "-m", "flows.convert_all", "--local", "--config", str(pipeline)],
                              check=False, cwd=PROJECT, capture_output=True, text=True, timeout=DEADLINE_S, env=env)
    except subprocess.TimeoutExpired:
        return "hung", ""
    return str(done.returncode), done.stdout + done.stderr


def digest(work: Path, pattern: str) -> str:
    files = sorted(p for p in work.glob(pattern) if p.is_file() and not {".staging", ".locks"} & set(p.parts))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest() if files else ""


def probe(item: Probe, work: Path) -> Row:
    work.mkdir(parents=True)
    lost = "-"  # nothing was written before this run
    if item.breaks is not None:
        first, _ = run(item.build(work), work)
        before = digest(work, item.kept)
        item.breaks(work)
        status, text = run(item.build(work), work)
        lost = "no" if first == "0" and before and digest(work, item.kept) == before else "YES"
    else:
        status, text = run(item.build(work), work)
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if item.needle in line]
    if found:
        line = lines[found[0]].strip()
        if line.startswith("- ") and found[0] + 1 < len(lines):  # a failure block: the path, its cause below
            line = f"{line} / {lines[found[0] + 1].strip()}"
    else:
        line = lines[-1].strip() if lines else ""
    return Row(item.name, status, line.replace(str(work), "…")[:200], "Traceback" in text, lost)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--only", help="run the probes whose name holds this text")
    args = parser.parse_args(argv)
    root = args.work_dir or Path(tempfile.mkdtemp(prefix="containment-probe-"))
    rows = [probe(item, root / f"p{i:02d}") for i, item in enumerate(PROBES)
            if args.only is None or args.only in item.name]
    print("| input | exit | console line naming it | traceback? | data lost? |")
    print("|---|---|---|---|---|")
    for row in rows:
        line = row.line.replace("|", "\\|").replace("`", "'")  # plain text: messages hold backticks
        print(f"| {row.probe} | {row.exit} | {line} | {'yes' if row.traceback else 'no'} | {row.lost} |")
    if args.work_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
