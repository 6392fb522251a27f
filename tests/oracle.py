"""An independent, batch re-statement of the alignment rules, for checking converted datasets.

The converter aligns in one streaming pass; this computes the same grid from whole arrays of message times
with numpy, so the two only agree when the converter keeps exactly the frames the rules say it should.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.rosbag import BagReader


@dataclass(frozen=True)
class Rule:
    topic: str
    policy: str  # nearest | asof | hold
    tolerance_ns: int = 0
    required: bool = True


@dataclass(frozen=True)
class Expected:
    ticks: list[int]  # kept ticks, in order
    picks: list[list[int | None]]  # per kept tick, per rule: index of the chosen message (None: default)
    dropped: int  # ticks inside the span that could not be filled


def read_topics(bag: Path, topics: Sequence[str]) -> dict[str, tuple[np.ndarray, list[Any]]]:
    """Message times and messages per topic (small test bags only)."""
    times: dict[str, list[int]] = {t: [] for t in topics}
    msgs: dict[str, list[Any]] = {t: [] for t in topics}
    with BagReader(bag) as reader:
        for message in reader.messages(set(topics)):
            times[message.topic].append(message.time_ns)
            msgs[message.topic].append(message.msg)
    return {t: (np.array(times[t], dtype=np.int64), msgs[t]) for t in topics}


def _pick(times: np.ndarray, tick: int, rule: Rule) -> int | None:
    if rule.policy == "nearest":
        i = int(np.searchsorted(times, tick))
        candidates = [j for j in (i - 1, i) if 0 <= j < len(times)]
        if not candidates:
            return None
        best = min(candidates, key=lambda j: (abs(int(times[j]) - tick), j))
        return best if abs(int(times[best]) - tick) <= rule.tolerance_ns else None
    i = int(np.searchsorted(times, tick, side="right")) - 1
    if i < 0 or (rule.policy == "asof" and tick - int(times[i]) > rule.tolerance_ns):
        return None
    return i


def expected_frames(times: Mapping[str, np.ndarray], rules: Sequence[Rule], fps: int,
                    clock_topic: str | None, sample_drop: int) -> Expected:
    required = [r for r in rules if r.required]
    start = max(int(times[r.topic][0]) for r in required)
    if clock_topic is not None:
        clock = times[clock_topic]
        start = int(clock[np.searchsorted(clock, start)])
    ends = [int(times[r.topic][-1]) + r.tolerance_ns for r in required if r.policy != "hold"]
    end = min(ends) if ends else max(int(t[-1]) for t in times.values() if len(t))
    kept: list[tuple[int, list[int | None]]] = []
    dropped = 0
    k = 0
    while (tick := start + k * 1_000_000_000 // fps) <= end:
        picks = [_pick(times[r.topic], tick, r) if len(times[r.topic]) else None for r in rules]
        if all(p is not None for p, r in zip(picks, rules) if r.required):
            kept.append((tick, picks))
        else:
            dropped += 1
        k += 1
    kept = kept[sample_drop: len(kept) - sample_drop]
    return Expected([t for t, _ in kept], [p for _, p in kept], dropped)
