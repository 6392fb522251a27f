"""meta/commit.json: what a dataset version holds, written last of all, so its presence marks a complete version.

It lists every source (a bag) whose episodes are in the dataset, with its staging key and episode range, and
the settings hash the episodes were converted with: an append run converts only sources not listed here,
and refuses to mix episodes converted with other settings. lerobot reads only info.json, stats.json,
tasks.parquet and episodes/ under meta/, so the file rides along without changing how the dataset loads.

Format 2 keeps the marker constant-size: the sources sit in one append-only part per commit,
meta/commit/sources-NNNNNN.jsonl (one line per source, ~150 bytes), written and fsynced before the marker;
the marker counts the parts and sources that belong to its version, and a reader ignores any beyond. An
append writes only its own part (the committed ones are hard-linked into the next version); loading the
record reads every part once: the lookup of committed bags costs ~150 bytes per source. Format 1 (the
sources inside commit.json) is still read; the next commit writes format 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.storage.atomic import fsync_path, write_bytes_atomic, write_json_atomic
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.swap import recover_swap

COMMIT_PATH = "meta/commit.json"
COMMIT_FORMAT = 2  # bumped when the record changes incompatibly
COMMIT_PARTS = "meta/commit"  # sources-NNNNNN.jsonl, one per commit


def sources_part(index: int) -> str:
    return f"{COMMIT_PARTS}/sources-{index:06d}.jsonl"


@dataclass(frozen=True)
class CommittedSource:
    """One source's episodes in the dataset: [first_episode, end_episode)."""

    path: str  # resolved path of the bag
    staging_key: str
    first_episode: int
    end_episode: int

    def shifted(self, offset: int) -> CommittedSource:
        return CommittedSource(self.path, self.staging_key, self.first_episode + offset, self.end_episode + offset)


@dataclass(frozen=True)
class CommitRecord:
    """The dataset version's contents, by source. `parts`: how many source parts the version on disk has
    (0: none yet, or format 1): an append writes part `parts` with the sources after the committed ones."""

    settings_hash: str
    sources: tuple[CommittedSource, ...]
    episodes: int
    frames: int
    parts: int = field(default=0, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The marker: constant size (the sources are in the parts)."""
        return {"format": COMMIT_FORMAT, "settings_hash": self.settings_hash, "episodes": self.episodes,
                "frames": self.frames, "sources": len(self.sources), "parts": self.parts}

    @classmethod
    def load(cls, root: Path) -> CommitRecord | None:
        """The record of the dataset at `root`; None when it has none (not written by this version)."""
        path = Path(root) / COMMIT_PATH
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") == 1:
                rows, parts = data["sources"], 0
            elif data.get("format") == COMMIT_FORMAT:
                parts = int(data["parts"])
                rows = [json.loads(line) for index in range(parts)
                        for line in (Path(root) / sources_part(index)).read_text(encoding="utf-8").splitlines()
                        if line][: int(data["sources"])]  # parts or lines past the marker's count: not this version's
                if len(rows) != int(data["sources"]):
                    raise ValueError(f"{len(rows)} sources in {COMMIT_PARTS}, the marker says {data['sources']}")
            else:
                raise ValueError(f"format {data.get('format')!r}, this version reads 1 and {COMMIT_FORMAT}")
            sources = tuple(
                CommittedSource(s["path"], s["staging_key"], int(s["episodes"][0]), int(s["episodes"][1]))
                for s in rows
            )
            return cls(str(data["settings_hash"]), sources, int(data["episodes"]), int(data["frames"]), parts)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            raise DataprepError(f"{path} is unreadable ({err}); rebuild the dataset") from err

    def save(self, root: Path, base: CommitRecord | None = None) -> CommitRecord:
        """Write the record durably, its sources' part first and the marker last: once the marker exists, the
        version counts as complete. With `base` (the committed record this one extends, whose parts are
        linked into `root` already) only the new sources are written, as part `base.parts`; without it (or
        with a format-1 base) every source goes into part 0. Returns the record as saved."""
        root = Path(root)
        first = base.parts if base is not None and base.parts > 0 else 0
        if first and self.sources[: len(base.sources) if base else 0] != (base.sources if base else ()):
            raise DataprepError(f"{root}: the new record does not extend the committed one's sources")
        new = self.sources[len(base.sources):] if first and base is not None else self.sources
        part = root / sources_part(first)
        write_bytes_atomic(part, encode_sources(new))
        fsync_path(part.parent)
        crash_point("commit-sources-written")
        saved = CommitRecord(self.settings_hash, self.sources, self.episodes, self.frames, first + 1)
        path = root / COMMIT_PATH
        write_json_atomic(path, saved.to_json())  # under a temp name until whole: never a half record
        fsync_path(path.parent)
        return saved


def encode_sources(sources: Sequence[CommittedSource]) -> bytes:
    """A sources part: one JSON line per source."""
    return "".join(json.dumps({"path": s.path, "staging_key": s.staging_key,
                               "episodes": [s.first_episode, s.end_episode]}, ensure_ascii=False) + "\n"
                   for s in sources).encode()


def recover_dataset(root: Path) -> str | None:
    """At the start of a run: finish a swap of `root` a crash interrupted, or roll it back (see storage.swap)."""
    return recover_swap(Path(root), COMMIT_PATH)
