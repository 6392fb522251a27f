"""Reads any LeRobot v3.0 dataset an edit starts from: ours (with meta/commit.json) or one lerobot's tools wrote.

Only what lerobot itself needs is required: info.json, tasks.parquet and meta/episodes. Per-episode
statistics are optional (lerobot's `convert_image_to_video` writes episodes without them): an episode without
them has `stats` None, and the edit keeps the dataset's stats.json where it cannot recompute it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import CommitRecord
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import STAT_NAMES, STATS_PATH, TASKS_INDEX_NAME, TASKS_PATH
from dataprep.lerobot.packing import FileRef, VideoPlace
from dataprep.lerobot.stats import FeatureStats


class EditError(DataprepError):
    """An edit cannot be done as asked; the message names the dataset, episode or argument."""


@dataclass(frozen=True)
class SourceEpisode:
    """One row of meta/episodes, typed; `row` keeps every column as read, for columns we do not interpret."""

    index: int
    length: int
    tasks: tuple[str, ...]
    data: FileRef
    first_frame: int  # dataset_from_index
    videos: dict[str, VideoPlace]
    stats: dict[str, FeatureStats] | None  # None: the row has no stats/* columns
    row: dict[str, Any]


@dataclass(frozen=True, eq=False)  # identity: an edit tells its sources apart by which one, not by content
class SourceDataset:
    """A dataset as an edit reads it; nothing here is modified."""

    root: Path
    info: DatasetInfo
    tasks: tuple[str, ...]  # in task_index order
    episodes: tuple[SourceEpisode, ...]
    episodes_schema: pa.Schema  # of meta/episodes, as written (ours or lerobot's)
    record: CommitRecord | None  # None: written or edited by another tool
    stats_json: dict[str, Any]

    @property
    def frames(self) -> int:
        return sum(ep.length for ep in self.episodes)

    def episode(self, index: int) -> SourceEpisode:
        if not 0 <= index < len(self.episodes):
            raise EditError(f"{self.root}: no episode {index}; the dataset has episodes 0..{len(self.episodes) - 1}")
        return self.episodes[index]


def read_source(root: Path) -> SourceDataset:
    """The dataset at `root`; errors name the file that cannot be read."""
    root = Path(root)
    info = DatasetInfo.read(root)
    files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise EditError(f"{root}: meta/episodes holds no episodes file")
    try:
        tables = [pq.read_table(path) for path in files]
        tasks_table = pq.read_table(root / TASKS_PATH)
    except (OSError, pa.ArrowException) as err:
        raise EditError(f"{root}: cannot read the dataset's metadata: {err}") from err
    schema = tables[0].schema
    rows = [row for table in tables for row in table.to_pylist()]
    text_column = TASKS_INDEX_NAME if TASKS_INDEX_NAME in tasks_table.column_names else tasks_table.column_names[-1]
    order = sorted(zip(tasks_table["task_index"].to_pylist(), tasks_table[text_column].to_pylist()))
    episodes = tuple(_episode(row, list(info.features), info.video_keys) for row in rows)
    if [ep.index for ep in episodes] != list(range(len(episodes))):
        raise EditError(f"{root}: meta/episodes does not hold episodes 0..{len(episodes) - 1} in order")
    stats_path = root / STATS_PATH
    stats_json = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else {}
    return SourceDataset(root, info, tuple(task for _, task in order), episodes, schema, CommitRecord.load(root),
                         stats_json)


def _episode(row: dict[str, Any], features: list[str], video_keys: list[str]) -> SourceEpisode:
    videos = {
        key: VideoPlace(row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"],
                        row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"])
        for key in video_keys
    }  # fmt: skip
    has_stats = all(f"stats/{key}/{name}" in row for key in features for name in STAT_NAMES)
    stats = ({key: FeatureStats.from_dict({name: row[f"stats/{key}/{name}"] for name in STAT_NAMES})
              for key in features} if has_stats else None)
    return SourceEpisode(
        index=row["episode_index"], length=row["length"], tasks=tuple(row.get("tasks") or ()),
        data=(row["data/chunk_index"], row["data/file_index"]), first_frame=row["dataset_from_index"],
        videos=videos, stats=stats, row=row,
    )  # fmt: skip
