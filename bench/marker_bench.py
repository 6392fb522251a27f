"""What durable completion markers cost: one bag staged with `write_marker` as it is, and with its data fsync
turned off (the marker still written atomically), side by side, alternating, each into a fresh output.

    python -m bench.marker_bench                      # a 10 s Kuavo-like bag, 3 rounds each, about a minute
    python -m bench.marker_bench --seconds 30 --rounds 5

Target: fsynced / unsynced wall time <= 1.05 (the data is written once either way; the fsync only waits for
the disk before the marker).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion.bag_to_episodes import convert_bag
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.storage import markers

PROJECT = Path(__file__).resolve().parents[1]
TARGET = 1.05


def stage_once(bag: Path, out: Path, synced: bool) -> float:
    config = load_config(ConvertConfig, PROJECT / "configs" / "kuavo.yaml",
                         [f"input.bags={bag}", f"output_root={out}", "repo_id=bench/markers", "task=bench"])
    start = time.perf_counter()
    if synced:
        convert_bag(config, bag)
    else:
        with mock.patch.object(markers, "fsync_tree", return_value=None):
            convert_bag(config, bag)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the generated bag")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="marker-bench-") as work:
        bag = write_kuavo_bag(Path(work) / "k.bag", KuavoBagSpec(duration_s=args.seconds))
        stage_once(bag, Path(work) / "warm", True)  # imports, codec start-up
        times: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for synced in (round_ % 2 == 0, round_ % 2 == 1):
                times[synced].append(stage_once(bag, Path(work) / f"r{round_}-{synced}", synced))
    fsynced, unsynced = statistics.median(times[True]), statistics.median(times[False])
    ratio = fsynced / unsynced
    print(f"staging a {args.seconds:.0f} s bag, median of {args.rounds}: fsynced markers {fsynced:.2f} s, "
          f"data not fsynced {unsynced:.2f} s, ratio {ratio:.3f} ({'PASS' if ratio <= TARGET else 'FAIL'}, "
          f"target <= {TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
