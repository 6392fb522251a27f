"""One episode's measured quality: the typed record a conversion computes (conversion/quality.py) and the
dataset's quality files keep (quality_files.py). A leaf: the edit and viewer packages read it without the
conversion's configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TopicQuality:
    messages: int
    rate_hz: float
    p95_gap_s: float
    max_gap_s: float
    skew_mean_ms: float | None  # receive - header.stamp; None without usable stamps
    skew_max_ms: float | None


@dataclass(frozen=True)
class ChannelQuality:
    match_rate: float  # ticks with a message / ticks decided
    mean_offset_ms: float
    max_offset_ms: float
    repeated: int  # frames that re-use the message of the frame before (cameras)


@dataclass(frozen=True)
class EpisodeQuality:
    frames: int
    ticks: int
    dropped: dict[str, int]
    topics: dict[str, TopicQuality]
    channels: dict[str, ChannelQuality]
    score: float
    reasons: tuple[str, ...]  # what lowered the score
    failing: tuple[str, ...]  # thresholds crossed
    # where ticks were dropped: (frames kept before the drop, reason, ticks), for the viewer's time axis
    drops_at: tuple[tuple[int, str, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeQuality:
        return cls(frames=data["frames"], ticks=data["ticks"], dropped=dict(data["dropped"]),
                   topics={k: TopicQuality(**v) for k, v in data["topics"].items()},
                   channels={k: ChannelQuality(**v) for k, v in data["channels"].items()},
                   score=data["score"], reasons=tuple(data["reasons"]), failing=tuple(data["failing"]),
                   drops_at=tuple((int(f), str(r), int(n)) for f, r, n in data.get("drops_at", ())))
