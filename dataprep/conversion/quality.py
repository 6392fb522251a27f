"""The quality of each episode, measured while the bag streams by, and a score with the reasons behind it.

Per topic: messages, mean rate, p95 and max gap, header-vs-receive skew. Per feature part and camera: the
share of ticks it matched, mean and max |offset|, and for cameras the frames that re-use the message of the
frame before (a camera slower than the grid). Drops come from the aligner's report. Thresholds from
`quality` turn measurements into failing reasons. Messages count towards the episode that is open when they
are read; memory is bounded per topic (gaps exact up to 65,536, then a fixed histogram), nothing per frame.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from dataprep.config.bags import QualitySpec
from dataprep.lerobot.episode_quality import ChannelQuality, EpisodeQuality, TopicQuality
from dataprep.timeline import NS_PER_S, AlignedFrame, AlignmentReport

# Gaps are kept exactly up to GAP_BUFFER per topic; past that they are folded into a histogram of log-spaced
# bins (GAP_BIN_RATIO apart, 1 us .. 1e5 s), so a topic's p95 gap costs a fixed ~100 kB however long the
# episode (an 8-hour recording at 500 Hz has 14 M gaps: 58 MB as float32). The p95 read off the histogram
# is the geometric middle of its bin: within 0.1% of the exact value; the max gap stays exact.
GAP_BUFFER = 1 << 16
GAP_BIN_RATIO = 1.002
_GAP_EDGES = np.exp(np.arange(np.log(1e-6), np.log(1e5), np.log(GAP_BIN_RATIO)))


class _Gaps:
    """The gaps between a topic's messages: exact while few, a bounded histogram once many."""

    def __init__(self) -> None:
        self.buffer = array("f")
        self.histogram: np.ndarray | None = None
        self.max = 0.0

    def append(self, gap_s: float) -> None:
        self.buffer.append(gap_s)
        if len(self.buffer) >= GAP_BUFFER:
            self._fold()

    def _fold(self) -> None:
        values = np.frombuffer(self.buffer, dtype=np.float32)
        self.max = max(self.max, float(values.max()))
        bins = np.clip(np.searchsorted(_GAP_EDGES, values), 0, len(_GAP_EDGES))
        counts = np.bincount(bins, minlength=len(_GAP_EDGES) + 1)
        self.histogram = counts if self.histogram is None else self.histogram + counts
        self.buffer = array("f")

    def p95_and_max(self) -> tuple[float, float]:
        if self.histogram is None:
            gaps = np.frombuffer(self.buffer, dtype=np.float32) if self.buffer else np.zeros(1, np.float32)
            return float(np.percentile(gaps, 95)), float(gaps.max())
        if self.buffer:
            self._fold()
        assert self.histogram is not None
        rank = 0.95 * (int(self.histogram.sum()) - 1)
        index = int(np.searchsorted(np.cumsum(self.histogram), rank, side="right"))
        low = _GAP_EDGES[index - 1] if index > 0 else 0.0
        high = _GAP_EDGES[index] if index < len(_GAP_EDGES) else self.max
        return float(np.sqrt(low * high)) if low else float(high), self.max


@dataclass
class _TopicAcc:
    first: int | None = None
    last: int | None = None
    gaps: _Gaps = field(default_factory=_Gaps)
    count: int = 0
    skew_sum: int = 0
    skew_n: int = 0
    skew_max: int = 0

    def add(self, time_ns: int, skew_ns: int | None) -> None:
        if self.last is not None:
            self.gaps.append((time_ns - self.last) / NS_PER_S)
        self.first = time_ns if self.first is None else self.first
        self.last, self.count = time_ns, self.count + 1
        if skew_ns is not None:
            self.skew_sum, self.skew_n = self.skew_sum + skew_ns, self.skew_n + 1
            self.skew_max = max(self.skew_max, abs(skew_ns))

    def result(self) -> TopicQuality:
        span = (self.last - self.first) / NS_PER_S if self.count > 1 else 0.0  # type: ignore[operator]
        p95, largest = self.gaps.p95_and_max()
        skew = (round(self.skew_sum / self.skew_n / 1e6, 3), round(self.skew_max / 1e6, 3)) if self.skew_n \
            else (None, None)
        return TopicQuality(self.count, round((self.count - 1) / span, 3) if span else 0.0,
                            round(p95, 4), round(largest, 4), *skew)


@dataclass
class _ChannelAcc:
    offsets: int = 0
    sum_ns: int = 0
    max_ns: int = 0
    repeated: int = 0
    previous: int | None = None  # message time used by the previous kept frame


class QualityTracker:
    """Feeds on messages and kept frames; `close_episode` measures what came since the last one."""

    def __init__(self, channels: list[tuple[str, bool]], spec: QualitySpec, camera_topics: dict[str, str]) -> None:
        """`channels`: (key, is camera) in the aligner's channel order; `camera_topics`: camera key -> topic."""
        self.channels, self.spec, self.camera_topics = channels, spec, camera_topics
        self._reset(Counter(), 0, Counter())

    def _reset(self, dropped: Counter[str], ticks: int, unmatched: Counter[str]) -> None:
        self._topics: dict[str, _TopicAcc] = {}
        self._channels = [_ChannelAcc() for _ in self.channels]
        self._frames = 0
        self._drops: list[tuple[int, str, int]] = []
        self._mark = (Counter(dropped), ticks, Counter(unmatched))

    def on_drops(self, reasons: list[str]) -> None:
        """Ticks dropped just before the next kept frame (or a frame dropped as bad): placed at the frame count."""
        for reason in reasons:
            if self._drops and self._drops[-1][:2] == (self._frames, reason):
                self._drops[-1] = (self._frames, reason, self._drops[-1][2] + 1)
            else:
                self._drops.append((self._frames, reason, 1))

    def on_message(self, topic: str, time_ns: int, skew_ns: int | None) -> None:
        self._topics.setdefault(topic, _TopicAcc()).add(time_ns, skew_ns)

    def on_frame(self, frame: AlignedFrame) -> None:
        self._frames += 1
        for (_, is_camera), acc, offset in zip(self.channels, self._channels, frame.offsets_ns):
            if offset is None:
                continue
            size = abs(offset)
            acc.offsets, acc.sum_ns, acc.max_ns = acc.offsets + 1, acc.sum_ns + size, max(acc.max_ns, size)
            used = frame.tick_ns + offset
            if is_camera and used == acc.previous:
                acc.repeated += 1
            acc.previous = used

    def close_episode(self, report: AlignmentReport) -> EpisodeQuality:
        """Measure the episode that ends now, and start the next one."""
        dropped0, ticks0, unmatched0 = self._mark
        dropped = dict(+(report.dropped - dropped0))
        ticks = max(report.ticks - ticks0, 1)
        unmatched = report.unmatched - unmatched0
        topics = {topic: acc.result() for topic, acc in sorted(self._topics.items())}
        channels = {
            key: ChannelQuality(round(1 - unmatched[key] / ticks, 4),
                                round(acc.sum_ns / acc.offsets / 1e6, 3) if acc.offsets else 0.0,
                                round(acc.max_ns / 1e6, 3), acc.repeated)
            for (key, _), acc in zip(self.channels, self._channels)
        }
        quality = self._score(dropped, ticks, topics, channels)
        self._reset(report.dropped, report.ticks, report.unmatched)
        return quality

    def _score(self, dropped: dict[str, int], ticks: int, topics: dict[str, TopicQuality],
               channels: dict[str, ChannelQuality]) -> EpisodeQuality:
        spec, frames = self.spec, max(self._frames, 1)
        drop_share = sum(dropped.values()) / ticks
        repeat = max(((c.repeated / frames, key) for key, c in channels.items()), default=(0.0, ""))
        match = min(((c.match_rate, key) for key, c in channels.items()), default=(1.0, ""))
        reasons, failing = [], []
        if drop_share:
            reasons.append(f"{drop_share:.1%} of ticks dropped")
        if repeat[0]:
            reasons.append(f"{repeat[1]}: {repeat[0]:.1%} of frames repeat the previous camera frame")
        if match[0] < 1:
            reasons.append(f"{match[1]}: matched {match[0]:.1%} of ticks")
        if drop_share > spec.max_drop_share:
            failing.append(f"{drop_share:.1%} of ticks dropped > max_drop_share {spec.max_drop_share:.0%}")
        if repeat[0] > spec.max_repeat_share:
            failing.append(f"{repeat[1]}: {repeat[0]:.1%} repeated frames > max_repeat_share "
                           f"{spec.max_repeat_share:.0%}")
        if match[0] < spec.min_match_rate:
            failing.append(f"{match[1]}: match rate {match[0]:.1%} < min_match_rate {spec.min_match_rate:.0%}")
        for key, topic in self.camera_topics.items():
            gap = topics[topic].max_gap_s if topic in topics else 0.0
            if gap > spec.max_camera_gap_s:
                failing.append(f"{key}: camera gap of {gap:.2f} s > max_camera_gap_s {spec.max_camera_gap_s:g} s")
        # a dropped tick is also an unmatched one: count the worse of the two, then the repeats
        score = round(max(0.0, 1 - max(drop_share, 1 - match[0]) - repeat[0]), 3)
        return EpisodeQuality(self._frames, ticks, dropped, topics, channels, score, tuple(reasons), tuple(failing),
                              tuple(self._drops))
