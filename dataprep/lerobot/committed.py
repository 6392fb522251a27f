"""Reads back the committed version of a dataset, for an append: its episodes, tasks, files and record.

An append never rewrites what is committed: the new version links the committed data, video and episodes
files as they are, numbers new episodes after the last one, puts them in files after the last file of each
kind, keeps every task's index, and merges the new episodes' statistics into the committed aggregate
(meta/stats.json; the merge is exact: count-weighted means, pooled variance, min/max). What it reads does not
grow with the number of committed episodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PARTS, COMMIT_PATH, CommitRecord
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import STAT_NAMES, STATS_PATH, TASKS_INDEX_NAME, TASKS_PATH
from dataprep.lerobot.meta_writer import PlacedEpisode
from dataprep.lerobot.packing import FileRef, VideoPlace
from dataprep.lerobot.quality_files import QUALITY_PARTS
from dataprep.lerobot.stats import FeatureStats
from dataprep.storage.swap import link_tree

# committed files an append links into the new version as they are; the rest of meta/ is written anew.
# LINKED_FOLDERS are also what compaction rewrites; APPENDED_FOLDERS hold one part per commit, never rewritten
LINKED_FOLDERS = ("data", "videos", "meta/episodes")
APPENDED_FOLDERS = (COMMIT_PARTS, QUALITY_PARTS)


@dataclass(frozen=True)
class CommittedDataset:
    """What the next version of a dataset builds on.

    An append reads only what it needs whatever the dataset's size: the record, info.json, tasks, stats.json
    (the aggregate the new episodes are merged into) and the last row of the last meta/episodes file (where
    the next files go). `episodes` reads every row, for the edits that need them all.
    """

    root: Path
    record: CommitRecord
    info: DatasetInfo
    tasks: tuple[str, ...]  # in task_index order
    last_data: FileRef
    last_videos: dict[str, FileRef]
    last_meta: FileRef

    @property
    def episode_count(self) -> int:
        return self.record.episodes

    @property
    def frames(self) -> int:
        return self.record.frames

    @cached_property
    def stats(self) -> dict[str, FeatureStats]:
        """meta/stats.json: every feature's statistics over the committed episodes."""
        path = self.root / STATS_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {key: FeatureStats.from_dict(data[key]) for key in self.info.features}
        except (OSError, ValueError, KeyError) as err:
            raise DataprepError(f"{path} is unreadable or lacks a feature ({err}); rebuild the dataset") from err

    @cached_property
    def episodes(self) -> tuple[PlacedEpisode, ...]:
        """Every committed episode's row, read from all meta/episodes files (proportional to the dataset)."""
        rows = [row for path in _episode_files(self.root) for row in _read(self.root, path).to_pylist()]
        episodes = tuple(_placed(row, self.tasks, list(self.info.features), self.info.video_keys) for row in rows)
        if [ep.index for ep in episodes] != list(range(self.record.episodes)):
            raise DataprepError(f"{self.root}: meta/episodes does not hold episodes 0..{self.record.episodes - 1} "
                                f"in order")
        return episodes

    def link_into(self, out: Path) -> set[str]:
        """Hard-link the files the next version takes over unchanged into `out`; the links made (str paths)."""
        return link_tree(self.root, out, (*LINKED_FOLDERS, *APPENDED_FOLDERS))


def _episode_files(root: Path) -> list[Path]:
    return sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))


def _read(root: Path, path: Path, columns: list[str] | None = None, last_row_only: bool = False) -> pa.Table:
    try:
        parquet = pq.ParquetFile(path)  # not pq.read_table: its dataset layer imports pandas (~0.4 s per process)
        if not last_row_only:
            return parquet.read(columns=columns)
        table = parquet.read_row_group(parquet.num_row_groups - 1, columns=columns)
        return table.slice(table.num_rows - 1)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise DataprepError(f"{root}: cannot read the committed metadata {path}: {err}") from err


def read_committed(root: Path) -> CommittedDataset:
    """The committed dataset at `root`, which must carry a commit record; errors name the file."""
    root = Path(root)
    record = CommitRecord.load(root)
    if record is None:
        raise DataprepError(f"{root} has no commit record, so nothing can be appended to it")
    info = DatasetInfo.read(root)
    tasks_table = _read(root, root / TASKS_PATH)
    order = sorted(zip(tasks_table["task_index"].to_pylist(), tasks_table[TASKS_INDEX_NAME].to_pylist()))
    tasks = tuple(task for _, task in order)
    files = _episode_files(root)
    if not files:
        raise DataprepError(f"{root}: meta/episodes holds no episodes file")
    places = ["data", *(f"videos/{key}" for key in info.video_keys), "meta/episodes"]
    columns = ["episode_index", "dataset_to_index", *(f"{p}/{n}" for p in places for n in ("chunk_index",
                                                                                            "file_index"))]
    (last,) = _read(root, files[-1], columns, last_row_only=True).to_pylist()
    if last["episode_index"] != record.episodes - 1 or last["dataset_to_index"] != record.frames:
        raise DataprepError(
            f"{root}: the last row of {files[-1]} (episode {last['episode_index']}, frames up to "
            f"{last['dataset_to_index']}) disagrees with {COMMIT_PATH} ({record.episodes} episodes, "
            f"{record.frames} frames)"
        )
    return CommittedDataset(
        root, record, info, tasks,
        last_data=(last["data/chunk_index"], last["data/file_index"]),
        last_videos={key: (last[f"videos/{key}/chunk_index"], last[f"videos/{key}/file_index"])
                     for key in info.video_keys},
        last_meta=(last["meta/episodes/chunk_index"], last["meta/episodes/file_index"]),
    )  # fmt: skip


def _placed(row: dict[str, Any], tasks: tuple[str, ...], features: list[str], video_keys: list[str]
            ) -> PlacedEpisode:
    task = row["tasks"][0]
    videos = {
        key: VideoPlace(row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"],
                        row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"])
        for key in video_keys
    }  # fmt: skip
    stats = {key: FeatureStats.from_dict({name: row[f"stats/{key}/{name}"] for name in STAT_NAMES})
             for key in features}
    return PlacedEpisode(
        index=row["episode_index"], length=row["length"], task=task, task_index=tasks.index(task),
        data=(row["data/chunk_index"], row["data/file_index"]), first_frame=row["dataset_from_index"],
        videos=videos, stats=stats,
    )  # fmt: skip
