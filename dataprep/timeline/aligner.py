"""Streaming alignment of time-ordered messages onto a fixed-fps frame grid.

Messages arrive in receive-time order, so a tick can be decided as soon as any message later than the tick
plus the largest look-ahead (the widest `nearest` tolerance) has been seen: nothing that could still be chosen
can arrive after that. Each topic keeps only the messages a future tick may still pick, so memory depends on
the tolerances and rates, never on the length of the recording.

The grid starts where every required topic has data (at the main clock's next message when there is one) and
ends where the first required topic runs out; ticks that cannot be filled are dropped and counted by reason.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Policy = Literal["nearest", "asof", "hold"]
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Channel:
    """One value sampled at every tick: a feature part or a camera."""

    key: str
    topic: str
    policy: Policy
    tolerance_ns: int | None = None  # nearest: max |offset|; asof: max age; hold: ignored
    default: Any = None  # used when the topic has nothing to offer; makes the channel optional

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def lookahead_ns(self) -> int:
        return (self.tolerance_ns or 0) if self.policy == "nearest" else 0

    @property
    def lookback_ns(self) -> int:
        return 0 if self.policy == "hold" else (self.tolerance_ns or 0)

    def describe(self) -> str:
        if self.policy == "hold":
            return f"no {self.topic} message before the tick (hold)"
        ms = (self.tolerance_ns or 0) / 1e6
        if self.policy == "asof":
            return f"no {self.topic} message in the {ms:g} ms before the tick (asof)"
        return f"no {self.topic} message within {ms:g} ms (nearest)"


@dataclass(frozen=True)
class AlignedFrame:
    """Values for one tick, one per channel in channel order; an offset of None marks a default value."""

    tick_ns: int
    values: tuple[Any, ...]
    offsets_ns: tuple[int | None, ...]


@dataclass
class AlignmentReport:
    """Counts kept while aligning; it grows with the number of distinct reasons, not with frames."""

    emitted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    trimmed: Counter[str] = field(default_factory=Counter)
    filled_by_default: Counter[str] = field(default_factory=Counter)
    max_offset_ns: dict[str, int] = field(default_factory=dict)
    late: Counter[str] = field(default_factory=Counter)  # topic -> messages that came after their ticks
    ticks: int = 0  # ticks decided, kept or dropped
    unmatched: Counter[str] = field(default_factory=Counter)  # channel key -> ticks it had no message for
    recent_drops: list[tuple[int, str]] = field(default_factory=list)  # (tick, reason); the consumer clears it
    first_tick_ns: int | None = None
    last_tick_ns: int | None = None


def _pick(buffer: deque[tuple[int, Any]], tick: int, channel: Channel) -> tuple[int, Any] | None:
    """The message `channel` takes at `tick`, or None."""
    if channel.policy == "nearest":
        tolerance = channel.tolerance_ns or 0
        best: tuple[int, Any] | None = None
        for entry in buffer:
            distance = abs(entry[0] - tick)
            if distance <= tolerance and (best is None or distance < abs(best[0] - tick)):
                best = entry
        return best
    latest = None
    for entry in buffer:
        if entry[0] > tick:
            break
        latest = entry
    if latest is None or (channel.policy == "asof" and tick - latest[0] > (channel.tolerance_ns or 0)):
        return None
    return latest


class Aligner:
    """Turns `push(topic, time, payload)` calls into `AlignedFrame`s on a grid of `fps` ticks per second."""

    def __init__(self, channels: Sequence[Channel], fps: int, clock_topic: str | None = None,
                 sample_drop: int = 0, slack_ns: int = 0) -> None:
        """`slack_ns`: how late a message may arrive after its own time (header-clocked topics); ticks wait
        that long before they are decided."""
        if not channels:
            raise ValueError("at least one channel is needed")
        if clock_topic is not None and clock_topic not in {c.topic for c in channels if c.required}:
            raise ValueError(f"clock topic {clock_topic} must be the topic of a required channel")
        self.channels = tuple(channels)
        self.fps = fps
        self.clock_topic = clock_topic
        self.sample_drop = sample_drop
        self.report = AlignmentReport()
        self._buffers: dict[str, deque[tuple[int, Any]]] = {c.topic: deque() for c in channels}
        self._lookback = {topic: max(c.lookback_ns for c in channels if c.topic == topic) for topic in self._buffers}
        self._lookahead = max(c.lookahead_ns for c in channels) + slack_ns
        self._required = {c.topic for c in channels if c.required}
        self._first: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._span_start: int | None = None
        self._t0: int | None = None
        self._k = 0
        self._now = -1
        self._skipped_start = 0
        self._delayed: deque[AlignedFrame] = deque()
        self._trailing_drops: list[tuple[int, str]] = []

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._buffers)

    @property
    def silent_topics(self) -> list[str]:
        """Required topics that sent nothing so far: the reason a bag yields no frame at all."""
        return sorted(self._required - self._first.keys())

    def _tick(self, k: int) -> int:
        assert self._t0 is not None
        return self._t0 + k * NS_PER_S // self.fps

    def push(self, topic: str, time_ns: int, payload: Any, arrival_ns: int | None = None) -> list[AlignedFrame]:
        """Add a message and return the frames it completes.

        Arrival times (receive times; `time_ns` itself when not given) must not decrease. A message's own time
        may be earlier than what arrived before it (a header stamp): it is placed in order in its topic, and
        counted as late when the ticks it could have served are already decided.
        """
        arrival = time_ns if arrival_ns is None else arrival_ns
        if arrival < self._now:
            raise ValueError(f"message on {topic} at {arrival} ns is older than the previous one ({self._now} ns)")
        self._now = arrival
        self._first[topic] = min(self._first.get(topic, time_ns), time_ns)
        self._last[topic] = max(self._last.get(topic, time_ns), time_ns)
        buffer = self._buffers[topic]
        if self._t0 is not None and self._k and time_ns < self._tick(self._k - 1):
            self.report.late[topic] += 1  # a tick it could have served is decided already
        if buffer and buffer[-1][0] > time_ns:
            buffer.insert(bisect.bisect(buffer, time_ns, key=lambda entry: entry[0]), (time_ns, payload))
        else:
            buffer.append((time_ns, payload))
        if self._t0 is None:
            self._try_start(topic, time_ns)
        cutoff = (self._tick(self._k) if self._t0 is not None else time_ns) - self._lookback[topic]
        while len(buffer) > 1 and buffer[1][0] <= cutoff:
            buffer.popleft()
        out: list[AlignedFrame] = []
        while self._t0 is not None and self._tick(self._k) + self._lookahead < arrival:
            self._resolve(self._tick(self._k), out)
        return out

    def _try_start(self, topic: str, time_ns: int) -> None:
        if self._span_start is None and self._required <= self._first.keys():
            self._span_start = max(self._first[t] for t in self._required)
        if self._span_start is not None and (self.clock_topic is None or topic == self.clock_topic):
            self._t0 = time_ns if self.clock_topic else self._span_start
            self.report.first_tick_ns = self._t0

    def _resolve(self, tick: int, out: list[AlignedFrame]) -> None:
        values: list[Any] = []
        offsets: list[int | None] = []
        missing: list[Channel] = []
        for channel in self.channels:
            entry = _pick(self._buffers[channel.topic], tick, channel)
            if entry is not None:
                values.append(entry[1])
                offsets.append(entry[0] - tick)
            elif not channel.required:
                values.append(channel.default)
                offsets.append(None)
                self.report.unmatched[channel.key] += 1
            else:
                missing.append(channel)
                self.report.unmatched[channel.key] += 1
        self.report.ticks += 1
        self._k += 1
        next_tick = self._tick(self._k)
        for topic, buffer in self._buffers.items():
            cutoff = next_tick - self._lookback[topic]
            while len(buffer) > 1 and buffer[1][0] <= cutoff:
                buffer.popleft()
        if missing:
            reason = "; ".join(dict.fromkeys(c.describe() for c in missing))
            self.report.dropped[reason] += 1
            self.report.recent_drops.append((tick, reason))
            self._trailing_drops.append((tick, reason))
            return
        self._trailing_drops.clear()
        if self._skipped_start < self.sample_drop:
            self._skipped_start += 1
            self.report.trimmed["sample_drop at start"] += 1
            return
        self._delayed.append(AlignedFrame(tick, tuple(values), tuple(offsets)))
        if len(self._delayed) > self.sample_drop:
            out.append(self._release(self._delayed.popleft()))

    def _release(self, frame: AlignedFrame) -> AlignedFrame:
        report = self.report
        report.emitted += 1
        report.last_tick_ns = frame.tick_ns
        for channel, offset in zip(self.channels, frame.offsets_ns):
            if offset is None:
                report.filled_by_default[channel.key] += 1
            elif abs(offset) > report.max_offset_ns.get(channel.key, -1):
                report.max_offset_ns[channel.key] = abs(offset)
        return frame

    def _span_end(self) -> tuple[int, str]:
        """Where the required topics stop supporting ticks, and which topic decides it."""
        ends = [
            (self._last[c.topic] + (c.tolerance_ns or 0), c.topic)
            for c in self.channels
            if c.required and c.policy != "hold" and c.topic in self._last
        ]
        return min(ends) if ends else (self._now, "")

    def finish(self) -> list[AlignedFrame]:
        """Resolve the ticks still pending at the end of the bag; return the last frames."""
        out: list[AlignedFrame] = []
        if self._t0 is None:
            return out
        end, topic = self._span_end()
        while self._tick(self._k) <= end:
            self._resolve(self._tick(self._k), out)
        for tick, reason in self._trailing_drops:
            if tick > end:
                self.report.dropped[reason] -= 1
                self.report.trimmed[f"after the last {topic} message"] += 1
        self.report.dropped = +self.report.dropped
        self.report.trimmed["sample_drop at end"] += len(self._delayed)
        self.report.trimmed = +self.report.trimmed
        self._delayed.clear()
        return out
