"""Which time puts a message on the grid: its receive time, or its `header.stamp` where configured.

Header stamps in real bags can be zero (a driver that never sets them) or far from the receive time (a
clock not synchronised); a grid built from such a stamp is nonsense. Every stamp seen is checked against the
receive time; on a header-clocked topic a zero or absurd stamp drops that message, on a receive-clocked one it
is only counted. Both are reported, with the header-vs-receive skew per topic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataprep.errors import DataprepError
from dataprep.timeline.aligner import NS_PER_S


def header_stamp_ns(msg: Any) -> int | None:
    """`header.stamp` in nanoseconds, or None when the message has no header."""
    stamp = getattr(getattr(msg, "header", None), "stamp", None)
    if stamp is None:
        return None
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


@dataclass
class Clock:
    """Times messages per the configuration and counts stamp problems per topic."""

    header_topics: frozenset[str]
    max_skew_ns: int
    bag: str = ""
    problems: Counter[str] = field(default_factory=Counter)  # "topic: what" -> messages
    last_skew_ns: int | None = None  # receive - stamp of the last message timed, None without a usable stamp

    def time_of(self, topic: str, receive_ns: int, msg: Any) -> int | None:
        """The message's time on the grid, or None when its header-clocked stamp cannot be used."""
        stamp = header_stamp_ns(msg)
        self.last_skew_ns = None
        on_header = topic in self.header_topics
        if stamp is None:
            if on_header:
                raise DataprepError(f"bag {self.bag}: topic {topic} has no header.stamp, so it cannot use "
                                    f"clock: header; set it to receive")
            return receive_ns
        if stamp == 0:
            self.problems[f"{topic}: header stamp is zero"] += 1
        elif abs(receive_ns - stamp) > self.max_skew_ns:
            self.problems[f"{topic}: header stamp more than {self.max_skew_ns / NS_PER_S:g} s from receive time"] += 1
        else:
            self.last_skew_ns = receive_ns - stamp
            return stamp if on_header else receive_ns
        return None if on_header else receive_ns

