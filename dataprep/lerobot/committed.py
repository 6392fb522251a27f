"""Reads back the committed version of a dataset, for an append: its episodes, tasks, files and record.

An append never rewrites what is committed: the new version links the committed data, video and episodes
files as they are, numbers new episodes after the last one, puts them in files after the last file of each
kind, keeps every task's index, and aggregates statistics over the committed episodes' own (read back from
meta/episodes) and the new ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import CommitRecord
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import STAT_NAMES, TASKS_INDEX_NAME, TASKS_PATH
from dataprep.lerobot.meta_writer import PlacedEpisode
from dataprep.lerobot.packing import FileRef, VideoPlace
from dataprep.lerobot.stats import FeatureStats

# committed files an append links into the new version as they are; the rest of meta/ is written anew
LINKED_FOLDERS = ("data", "videos", "meta/episodes")


@dataclass(frozen=True)
class CommittedDataset:
    """What the next version of a dataset builds on."""

    root: Path
    record: CommitRecord
    info: DatasetInfo
    tasks: tuple[str, ...]  # in task_index order
    episodes: tuple[PlacedEpisode, ...]
    last_data: FileRef
    last_videos: dict[str, FileRef]
    last_meta: FileRef

    @property
    def frames(self) -> int:
        return sum(ep.length for ep in self.episodes)

    def linked_files(self) -> Iterator[Path]:
        """Dataset-relative paths of the files the next version takes over unchanged."""
        for folder in LINKED_FOLDERS:
            for path in sorted((self.root / folder).rglob("*")):
                if path.is_file():
                    yield path.relative_to(self.root)


def read_committed(root: Path) -> CommittedDataset:
    """The committed dataset at `root`, which must carry a commit record; errors name the file."""
    root = Path(root)
    record = CommitRecord.load(root)
    if record is None:
        raise DataprepError(f"{root} has no commit record, so nothing can be appended to it")
    info = DatasetInfo.read(root)
    try:
        tasks_table = pq.read_table(root / TASKS_PATH)
        files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
        rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    except (OSError, ValueError, pa.ArrowException) as err:
        raise DataprepError(f"{root}: cannot read the committed metadata: {err}") from err
    order = sorted(zip(tasks_table["task_index"].to_pylist(), tasks_table[TASKS_INDEX_NAME].to_pylist()))
    tasks = tuple(task for _, task in order)
    episodes = tuple(_placed(row, tasks, list(info.features), info.video_keys) for row in rows)
    if not episodes or [ep.index for ep in episodes] != list(range(record.episodes)):
        raise DataprepError(f"{root}: meta/episodes does not hold episodes 0..{record.episodes - 1} in order")
    last = rows[-1]
    return CommittedDataset(
        root, record, info, tasks, episodes,
        last_data=episodes[-1].data,
        last_videos={key: (ep.chunk, ep.file) for key, ep in episodes[-1].videos.items()},
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
