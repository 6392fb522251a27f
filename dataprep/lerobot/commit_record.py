"""meta/commit.json: what a dataset version holds, written last of all, so its presence marks a complete version.

It lists every source (a bag) whose episodes are in the dataset, with its staging key and episode range, and
the settings hash the episodes were converted with: an append run converts only sources not listed here,
and refuses to mix episodes converted with other settings. lerobot reads only info.json, stats.json,
tasks.parquet and episodes/ under meta/, so the file rides along without changing how the dataset loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.storage.atomic import fsync_path, write_json_atomic
from dataprep.storage.swap import recover_swap

COMMIT_PATH = "meta/commit.json"
COMMIT_FORMAT = 1  # bumped when the record changes incompatibly


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
    """The dataset version's contents, by source."""

    settings_hash: str
    sources: tuple[CommittedSource, ...]
    episodes: int
    frames: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": COMMIT_FORMAT,
            "settings_hash": self.settings_hash,
            "episodes": self.episodes,
            "frames": self.frames,
            "sources": [
                {"path": s.path, "staging_key": s.staging_key, "episodes": [s.first_episode, s.end_episode]}
                for s in self.sources
            ],
        }

    @classmethod
    def load(cls, root: Path) -> CommitRecord | None:
        """The record of the dataset at `root`; None when it has none (not written by this version)."""
        path = Path(root) / COMMIT_PATH
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != COMMIT_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, this version reads {COMMIT_FORMAT}")
            sources = tuple(
                CommittedSource(s["path"], s["staging_key"], int(s["episodes"][0]), int(s["episodes"][1]))
                for s in data["sources"]
            )
            return cls(str(data["settings_hash"]), sources, int(data["episodes"]), int(data["frames"]))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            raise DataprepError(f"{path} is unreadable ({err}); rebuild the dataset") from err

    def save(self, root: Path) -> None:
        """Write the record atomically and durably: once it exists, the version counts as complete."""
        path = Path(root) / COMMIT_PATH
        write_json_atomic(path, self.to_json())  # under a temp name until whole: never a half record
        fsync_path(path.parent)


def recover_dataset(root: Path) -> str | None:
    """At the start of a run: finish a swap of `root` a crash interrupted, or roll it back (see storage.swap)."""
    return recover_swap(Path(root), COMMIT_PATH)
