"""A long recording converts in the memory of a short one: nothing grows with the number of messages.

Each bag is converted in its own subprocess (peak RSS is per process). The bags have 4x the Kuavo sensor rate
(2 kHz sensors and joint commands, three 30 Hz cameras: the index grows with messages) and tiny images, so
the long one holds 246 k messages and converts in seconds. Measured (shared machine): the 60 s bag peaks
+5 MB above the 5 s one with the streaming reader, +18 MB with rosbags' own ROS1 reader (one ~176-byte
record per message, held from open to close); the bound sits between. bench/longrec_bench.py measures the
same on a 1,250 s bag at the real rates: +1.00x against rosbags' 1.87x.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dataprep.sample import KuavoBagSpec, write_kuavo_bag

PROJECT = Path(__file__).resolve().parents[1]
BOUND_MB = 11.0

CONVERT = """
import json, resource, sys
from pathlib import Path
from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_dataset
bag, out, reader = sys.argv[1], sys.argv[2], sys.argv[3]
if reader == "rosbags":
    import rosbags.rosbag1
    from dataprep.rosbag import reader as module
    module.Ros1Reader = rosbags.rosbag1.Reader
config = load_config(ConvertConfig, Path(sys.argv[4]) / "configs/kuavo.yaml",
                     [f"input.bags={json.dumps([bag])}", f"output_root={json.dumps(out)}", "repo_id=test/long",
                      "video.codec=h264"])
report = convert_dataset(config)
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "episodes": report.dataset.episodes, "frames": report.dataset.frames}))
"""


def convert_in_subprocess(bag: Path, out: Path, reader: str = "stream") -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT), os.environ.get("PYTHONPATH"))
                                                        if p)}
    proc = subprocess.run([sys.executable, "-c", CONVERT, str(bag), str(out), reader, str(PROJECT)], env=env,
                          capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_long_bag_peaks_within_a_few_mb_of_a_short_one(tmp_path: Path) -> None:
    spec = {"width": 64, "height": 48, "sensors_hz": 2000.0}
    short = write_kuavo_bag(tmp_path / "short.bag", KuavoBagSpec(duration_s=5.0, **spec))  # type: ignore[arg-type]
    long = write_kuavo_bag(tmp_path / "long.bag", KuavoBagSpec(duration_s=60.0, **spec),  # type: ignore[arg-type]
                           repeat_s=5.0)
    a = convert_in_subprocess(short, tmp_path / "out-short")
    b = convert_in_subprocess(long, tmp_path / "out-long")
    assert a["episodes"] == b["episodes"] and b["frames"] > 10 * a["frames"]
    grown = (b["peak_kb"] - a["peak_kb"]) / 1024
    assert grown < BOUND_MB, f"peak RSS grew {grown:.1f} MB from a 5 s to a 60 s bag"
