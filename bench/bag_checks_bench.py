"""What the real-world-bag checks cost in the conversion's one pass: stamps, quality measurement, the probe.

Measured side by side in one process on one Kuavo-like bag (written once into a temp dir):

- `pass`: read and deserialize every message of the converted topics (what the conversion's loop does anyway);
- `pass+checks`: the same loop plus what this change adds per message: `Clock.time_of` (header stamp checks)
  and `QualityTracker.on_message` (per-topic gaps and skew);
- `open`: opening the bag (typestore built and stored definitions probed) vs opening it as before (typestore
  only), so the cost of the stub-definition probe shows.

Each measure runs `--repeat` times, alternating, and the median is kept. Prints one line per measure and the
ratios. Run: `python -m bench.bag_checks_bench [--duration 20] [--repeat 5]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dataprep.config.bags import QualitySpec
from dataprep.conversion.quality import QualityTracker
from dataprep.rosbag import BagReader
from dataprep.rosbag.typestore import build_typestore
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.timeline import Clock

TOPICS = {"/cam_h/color/image_raw/compressed", "/sensors_data_raw", "/kuavo_arm_traj", "/leju_claw_state"}


def _pass(bag: Path, checks: bool) -> int:
    clock = Clock(frozenset(), 10 * 10**9, str(bag))
    tracker = QualityTracker([], QualitySpec(), {})
    n = 0
    with BagReader(bag) as reader:
        for message in reader.messages(TOPICS):
            if checks:
                clock.time_of(message.topic, message.time_ns, message.msg)
                tracker.on_message(message.topic, message.time_ns, clock.last_skew_ns)
            n += 1
    return n


def _open_plain(bag: Path) -> None:
    from rosbags.rosbag1 import Reader

    with Reader(bag) as reader:
        build_typestore(reader.connections, False, str(bag))  # (typestore, notes)


def _open_probed(bag: Path) -> None:
    with BagReader(bag):
        pass


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="bag length, seconds")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bag = write_kuavo_bag(Path(tmp) / "bench.bag", KuavoBagSpec(duration_s=args.duration))
        messages = _pass(bag, False)
        plain = _median(lambda: _pass(bag, False), args.repeat)
        checked = _median(lambda: _pass(bag, True), args.repeat)
        open_plain = _median(lambda: _open_plain(bag), args.repeat)
        open_probed = _median(lambda: _open_probed(bag), args.repeat)
    print(f"bag: {args.duration:g} s Kuavo-like, {messages} messages on {len(TOPICS)} topics, median of {args.repeat}")
    print(f"pass         {plain:.3f} s  ({messages / plain:,.0f} msg/s)")
    print(f"pass+checks  {checked:.3f} s  ({messages / checked:,.0f} msg/s)  ratio {checked / plain:.3f}")
    print(f"open         {open_plain * 1e3:.1f} ms; with the definition probe {open_probed * 1e3:.1f} ms  "
          f"ratio {open_probed / open_plain:.3f}")


if __name__ == "__main__":
    main()
