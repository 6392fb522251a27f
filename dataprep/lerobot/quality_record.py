"""The quality report's records, typed: an episode's entry (quality and provenance), the dataset's totals
(which an append updates from the previous totals and its new entries alone), and the whole document.
Each has to_json/from_json; quality_files.py writes and reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dataprep.lerobot.episode_quality import EpisodeQuality

QUALITY_FORMAT = 2


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True)
class BagFile:
    """One file of the source bag as it was when converted (a changed bag is told by these)."""

    file: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Provenance:
    """Where an episode came from: the bag, its span in it, its staging key and settings (or, for an episode
    of an adopted dataset, which dataset)."""

    bag: str
    span_s: tuple[float, float]
    bag_files: tuple[BagFile, ...] | None = None
    staging_key: str | None = None
    settings_hash: str | None = None
    adopted: str | None = None

    def to_json(self) -> dict[str, Any]:
        files = [vars(f) for f in self.bag_files] if self.bag_files is not None else None
        return _drop_none({"bag": self.bag, "bag_files": files, "staging_key": self.staging_key,
                           "span_s": list(self.span_s), "settings_hash": self.settings_hash, "adopted": self.adopted})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        files = data.get("bag_files")
        span = data.get("span_s") or (0.0, 0.0)
        return cls(str(data.get("bag") or ""), (float(span[0]), float(span[1])),
                   tuple(BagFile(str(f["file"]), int(f["size"]), int(f["mtime_ns"])) for f in files)
                   if files is not None else None,
                   data.get("staging_key"), data.get("settings_hash"), data.get("adopted"))


@dataclass(frozen=True)
class Trim:
    """The frames [first, end) of the original `of` frames an edit kept."""

    frames: tuple[int, int]
    of: int


@dataclass(frozen=True)
class QualityEntry:
    """One episode's quality and provenance; `episode_index` None: an episode left out of the dataset."""

    episode_index: int | None
    task: str | None
    frames: int
    duration_s: float
    quality: EpisodeQuality | None
    provenance: Provenance
    trim: Trim | None = None
    removed_by: str | None = None  # the edit that deleted it (then it is excluded)
    merged_from: str | None = None  # the dataset a merge took it from

    @property
    def failing(self) -> bool:
        return bool(self.quality and self.quality.failing)

    def to_json(self) -> dict[str, Any]:
        head = {"episode_index": self.episode_index} if self.episode_index is not None else {}
        trim = {"frames": list(self.trim.frames), "of": self.trim.of} if self.trim else None
        return {**head, "task": self.task, "frames": self.frames, "duration_s": self.duration_s,
                "quality": self.quality.to_dict() if self.quality else None, "provenance": self.provenance.to_json(),
                **_drop_none({"trim": trim, "removed_by": self.removed_by, "merged_from": self.merged_from})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QualityEntry:
        trim = data.get("trim")
        index = data.get("episode_index")
        return cls(int(index) if index is not None else None, data.get("task"), int(data["frames"]),
                   float(data.get("duration_s", 0.0)),
                   EpisodeQuality.from_dict(data["quality"]) if data.get("quality") else None,
                   Provenance.from_json(data.get("provenance") or {}),
                   Trim((int(trim["frames"][0]), int(trim["frames"][1])), int(trim["of"])) if trim else None,
                   data.get("removed_by"), data.get("merged_from"))


@dataclass(frozen=True)
class TopicTotals:
    """A topic over every episode: messages, and the worst rate and gap of any episode."""

    messages: int
    min_rate_hz: float
    max_gap_s: float


@dataclass(frozen=True)
class QualityTotals:
    """The head, meta/quality.json: totals any append updates from the previous totals and its new entries."""

    repo_id: str
    episodes: int = 0
    frames: int = 0
    scored: int = 0  # episodes with a score: the mean is score_sum / scored
    score_sum: float = 0.0
    min_score: float | None = None
    failing: int = 0  # how many episodes fail a threshold (which ones: QualityDocument.failing_episodes)
    excluded_episodes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    topics: dict[str, TopicTotals] = field(default_factory=dict)
    settings_hash: str = ""
    thresholds: dict[str, Any] | None = None
    parts: int = 0  # meta/quality/part-000000.jsonl .. part-{parts-1}

    @property
    def mean_score(self) -> float | None:
        return round(self.score_sum / self.scored, 3) if self.scored else None

    def added(self, entries: Iterable[QualityEntry], dropped: Mapping[str, int] = {}) -> QualityTotals:
        """These totals with `entries` counted in (episodes and excluded ones) and `dropped` frames added."""
        totals = Counter(self.dropped)
        totals.update(dropped)
        topics = dict(self.topics)
        episodes, frames, scored, score_sum = self.episodes, self.frames, self.scored, self.score_sum
        min_score, failing, excluded = self.min_score, self.failing, self.excluded_episodes
        for entry in entries:
            if entry.episode_index is None:
                excluded += 1
                continue
            episodes, frames = episodes + 1, frames + entry.frames
            if entry.quality is None:
                continue
            scored, score_sum = scored + 1, score_sum + entry.quality.score
            min_score = entry.quality.score if min_score is None else min(min_score, entry.quality.score)
            failing += entry.failing
            for topic, q in entry.quality.topics.items():
                was = topics.get(topic)
                topics[topic] = TopicTotals(q.messages, q.rate_hz, q.max_gap_s) if was is None else TopicTotals(
                    was.messages + q.messages, min(was.min_rate_hz, q.rate_hz), max(was.max_gap_s, q.max_gap_s))
        return replace(self, episodes=episodes, frames=frames, scored=scored, score_sum=score_sum,
                       min_score=min_score, failing=failing, excluded_episodes=excluded, dropped=dict(totals),
                       topics=topics)

    def to_json(self) -> dict[str, Any]:
        return {"format": QUALITY_FORMAT, "dataset": {
            "repo_id": self.repo_id, "episodes": self.episodes, "frames": self.frames,
            "mean_score": self.mean_score, "min_score": self.min_score, "scored": self.scored,
            "score_sum": self.score_sum, "failing": self.failing, "excluded_episodes": self.excluded_episodes,
            "dropped": self.dropped, "topics": {k: vars(t) for k, t in self.topics.items()},
            "settings_hash": self.settings_hash, "thresholds": self.thresholds}, "parts": self.parts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QualityTotals:
        d = data["dataset"]
        return cls(str(d["repo_id"]), int(d["episodes"]), int(d["frames"]), int(d["scored"]),
                   float(d["score_sum"]), d["min_score"], int(d["failing"]), int(d["excluded_episodes"]),
                   {str(k): int(v) for k, v in d["dropped"].items()},
                   {k: TopicTotals(int(t["messages"]), float(t["min_rate_hz"]), float(t["max_gap_s"]))
                    for k, t in d["topics"].items()},
                   str(d.get("settings_hash") or ""), d.get("thresholds"), int(data["parts"]))


@dataclass(frozen=True)
class QualityDocument:
    """Every entry with the totals: what an edit, the viewer or adoption reads (proportional to the dataset)."""

    totals: QualityTotals
    episodes: tuple[QualityEntry, ...]
    excluded: tuple[QualityEntry, ...]

    @property
    def failing_episodes(self) -> list[int]:
        return [e.episode_index for e in self.episodes if e.failing and e.episode_index is not None]

    @classmethod
    def of(cls, repo_id: str, entries: Sequence[QualityEntry], dropped: Mapping[str, int] = {},
           settings_hash: str = "", thresholds: dict[str, Any] | None = None) -> QualityDocument:
        """A document whose totals are computed from `entries` (in dataset order, excluded ones anywhere)."""
        totals = QualityTotals(repo_id, settings_hash=settings_hash, thresholds=thresholds).added(entries, dropped)
        return cls(totals, tuple(e for e in entries if e.episode_index is not None),
                   tuple(e for e in entries if e.episode_index is None))
