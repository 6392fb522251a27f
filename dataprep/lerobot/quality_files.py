"""The dataset's quality files, typed: a constant-size head of totals and one append-only part per commit.

Layout (format 2; lerobot reads neither file, nor our validator, nor edit/source.py):

    meta/quality.json               the head: the dataset's totals (QualityTotals) and how many parts it has
    meta/quality/part-000000.jsonl  one entry (QualityEntry) a line, the episodes a commit added, then the
    meta/quality/part-000001.jsonl  episodes it left out (`excluded`: they have no episode_index)

An append writes only its own part and a new head computed from the previous head and the new entries
alone (counts, sums, minima, per-topic worst: every total is aggregatable), so what it reads and writes does
not grow with the dataset. The failing episodes' numbers grow with it: the head keeps their count only, and
`QualityDocument.failing_episodes` reads the parts (an edit or the viewer reads them all anyway). Committed
parts are hard-linked into the next version as they are; a part whose number is not below the head's
`parts` is not this version's and is ignored. Format 1 (one quality.json holding every entry, written before)
is read as a whole; the first append writes its entries as part 0 and goes on in format 2.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.lerobot.episode_quality import EpisodeQuality

QUALITY_PATH = "meta/quality.json"
QUALITY_PARTS = "meta/quality"  # part-NNNNNN.jsonl, one per commit
QUALITY_FORMAT = 2


def part_path(index: int) -> str:
    return f"{QUALITY_PARTS}/part-{index:06d}.jsonl"


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


def encode_part(entries: Iterable[QualityEntry]) -> bytes:
    """A part as written: one entry a line (the round trip of `QualityEntry.from_json` gives these bytes)."""
    return "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries).encode()


def encode_head(totals: QualityTotals) -> bytes:
    """meta/quality.json as written."""
    return (json.dumps(totals.to_json(), indent=2, ensure_ascii=False) + "\n").encode()


def document_files(document: QualityDocument) -> dict[str, bytes]:
    """The whole document as one part plus its head (a rebuild, an edit, adoption, a migration)."""
    totals = replace(document.totals, parts=1)
    return {part_path(0): encode_part([*document.episodes, *document.excluded]), QUALITY_PATH: encode_head(totals)}


def appended_files(root: Path | None, repo_id: str, entries: Sequence[QualityEntry], dropped: Mapping[str, int],
                   settings_hash: str, thresholds: dict[str, Any] | None) -> dict[str, bytes]:
    """What an append writes: its own part and the new head, from the committed head at `root` (None: a new
    dataset); the committed parts are linked as they are (`APPENDED_FOLDERS` in committed.py). A format-1
    report is migrated: its entries become part 0 (read whole, once)."""
    previous = read_head(root) if root is not None else None
    if root is None or previous is None:
        return document_files(QualityDocument.of(repo_id, _numbered(entries, 0), dropped, settings_hash, thresholds))
    files: dict[str, bytes] = {}
    if previous.parts == 0:  # format 1: every entry sits in quality.json
        old = read_document(root)
        assert old is not None
        files.update(document_files(old))
        previous = replace(old.totals, parts=1)
    numbered = _numbered(entries, previous.episodes)
    totals = replace(previous.added(numbered, dropped), repo_id=repo_id, settings_hash=settings_hash,
                     thresholds=thresholds, parts=previous.parts + 1)
    files[part_path(previous.parts)] = encode_part(numbered)
    files[QUALITY_PATH] = encode_head(totals)
    return files


def _numbered(entries: Sequence[QualityEntry], first: int) -> list[QualityEntry]:
    """The new entries numbered after the committed episodes, the excluded ones after them."""
    kept = [e for e in entries if e.episode_index is not None]
    return [*(replace(e, episode_index=first + i) for i, e in enumerate(kept)),
            *(e for e in entries if e.episode_index is None)]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataprepError(f"{path} is unreadable ({err}); rebuild the dataset (mode: rebuild)") from err


def _v1_document(data: Mapping[str, Any]) -> QualityDocument:
    d = data["dataset"]
    entries = [QualityEntry.from_json(e) for e in data.get("episodes", [])]
    excluded = [QualityEntry.from_json({**e, "episode_index": None}) for e in data.get("excluded", [])]
    return QualityDocument.of(str(d.get("repo_id", "")), [*entries, *excluded], d.get("dropped") or {},
                              str(d.get("settings_hash") or ""), d.get("thresholds"))


def read_head(root: Path) -> QualityTotals | None:
    """The committed totals (constant size; a format-1 report is read whole); None without a report."""
    path = Path(root) / QUALITY_PATH
    if not path.is_file():
        return None
    data = _load_json(path)
    try:
        if data.get("format") == QUALITY_FORMAT:
            return QualityTotals.from_json(data)
        return replace(_v1_document(data).totals, parts=0)  # parts 0: not yet in parts
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataprepError(f"{path} is unreadable ({err!r}); rebuild the dataset (mode: rebuild)") from err


def read_document(root: Path) -> QualityDocument | None:
    """The head and every entry of the committed parts (or a format-1 report); None without a report."""
    path = Path(root) / QUALITY_PATH
    if not path.is_file():
        return None
    data = _load_json(path)
    try:
        if data.get("format") != QUALITY_FORMAT:
            return _v1_document(data)
        totals = QualityTotals.from_json(data)
        entries: list[QualityEntry] = []
        for index in range(totals.parts):  # later parts (none, after a swap) are not this version's
            part = Path(root) / part_path(index)
            try:
                text = part.read_text(encoding="utf-8")
            except OSError as err:
                raise DataprepError(f"{part}: missing or unreadable ({err}); rebuild the dataset") from err
            entries += [QualityEntry.from_json(json.loads(line)) for line in text.splitlines() if line]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataprepError(f"{path} or its parts are unreadable ({err!r}); rebuild the dataset") from err
    return QualityDocument(totals, tuple(e for e in entries if e.episode_index is not None),
                           tuple(e for e in entries if e.episode_index is None))


def read_latest(root: Path) -> QualityDocument | None:
    """The totals and the entries of the last commit alone (a run's report): constant cost."""
    totals = read_head(root)
    if totals is None:
        return None
    if totals.parts == 0:  # format 1: no parts, every entry is in the head's file
        return read_document(root)
    part = Path(root) / part_path(totals.parts - 1)
    try:
        entries = [QualityEntry.from_json(json.loads(line))
                   for line in part.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataprepError(f"{part}: missing or unreadable ({err!r}); rebuild the dataset") from err
    return QualityDocument(totals, tuple(e for e in entries if e.episode_index is not None),
                           tuple(e for e in entries if e.episode_index is None))
