"""Reads a LeRobot v3.0 folder's metadata into typed records; every defect met on the way is a finding.

Nothing here trusts the writer: a file may be missing, unreadable or hold the wrong columns, and the
dataset may come from lerobot itself or any other tool. What cannot be read is reported and left out, so the
checks after it run on whatever could be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.info import DatasetInfo, DatasetInfoError, FeatureInfo
from dataprep.lerobot.layout import CODEBASE_VERSION, EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH
from dataprep.lerobot.stats import FeatureStats
from dataprep.validate.report import Finding
from dataprep.validate.stats_read import UnreadStats, read_stats_table

# what lerobot 0.6.1 needs to find an episode's rows; `tasks` and `stats/*` are optional: lerobot's own
# convert_image_to_video writes episodes without them, and the dataset loads and iterates
_EPISODE_COLUMNS = ("episode_index", "length", "data/chunk_index", "data/file_index",
                    "dataset_from_index", "dataset_to_index")  # fmt: skip


@dataclass(frozen=True)
class VideoSpan:
    """Where one episode's frames of one camera sit: a file and a time span inside it (seconds)."""

    chunk: int
    file: int
    start: float
    end: float


@dataclass(frozen=True)
class EpisodeEntry:
    """One row of meta/episodes, typed."""

    index: int
    tasks: tuple[str, ...] | None  # None: the file has no tasks column (optional)
    length: int
    data_chunk: int
    data_file: int
    start: int  # dataset_from_index
    end: int  # dataset_to_index
    videos: dict[str, VideoSpan]
    stats: dict[str, FeatureStats | UnreadStats] | None  # per feature; None: no stats/* columns
    meta_file: str  # the episodes parquet this row came from


@dataclass(frozen=True)
class DatasetMeta:
    """Everything under meta/ that could be read."""

    root: Path
    info: DatasetInfo
    tasks: dict[str, int] | None  # task text -> task_index; None when tasks.parquet is unreadable
    episodes: tuple[EpisodeEntry, ...]
    stats: dict[str, FeatureStats | UnreadStats] | None  # stats.json per feature; None when unreadable

    @property
    def fps(self) -> int:
        return self.info.fps

    @property
    def features(self) -> dict[str, FeatureInfo]:
        return self.info.features

    @property
    def video_keys(self) -> list[str]:
        return self.info.video_keys

    def data_file(self, chunk: int, file: int) -> str:
        return self.info.data_file(chunk, file)

    def video_file(self, key: str, chunk: int, file: int) -> str:
        return self.info.video_file(key, chunk, file)


def load_meta(root: Path, found: list[Finding]) -> DatasetMeta | None:
    """The dataset's metadata, or None when info.json itself is unusable (nothing else can be located)."""
    info = _load_info(root, found)
    if info is None:
        return None
    return DatasetMeta(
        root, info, _load_tasks(root, found), _load_episodes(root, found), _load_stats(root, found)
    )


def _load_info(root: Path, found: list[Finding]) -> DatasetInfo | None:
    if not root.is_dir():
        found.append(Finding("meta.info", str(root), "the dataset folder does not exist"))
        return None
    try:
        info = DatasetInfo.read(root)
    except DatasetInfoError as err:  # its message starts with the full path; the finding names the file
        found.append(Finding("meta.info", INFO_PATH, str(err).removeprefix(f"{root / INFO_PATH}: ")))
        return None
    if info.codebase_version != CODEBASE_VERSION:
        found.append(
            Finding(
                "meta.info",
                INFO_PATH,
                f"codebase_version is {info.codebase_version!r}; lerobot 0.6 reads {CODEBASE_VERSION!r}",
            )
        )
    return info


def read_parquet(
    root: Path, relative: str, found: list[Finding], check: str, episode: int | None = None
) -> pa.Table | None:
    """A whole parquet file, or None with a finding when it is missing or its footer is unreadable."""
    path = root / relative
    if not path.is_file():
        found.append(Finding(check, relative, "missing", episode))
        return None
    try:
        with pq.ParquetFile(path) as parquet:  # not pq.read_table: its dataset layer imports pandas (~44 MB, 0.3 s)
            return parquet.read()
    except (OSError, pa.ArrowException) as err:  # a file cut short has no footer
        found.append(Finding(check, relative, f"unreadable parquet (truncated or corrupt?): {err}", episode))
        return None


def _load_tasks(root: Path, found: list[Finding]) -> dict[str, int] | None:
    table = read_parquet(root, TASKS_PATH, found, "meta.tasks")
    if table is None:
        return None
    pandas = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    if "task_index" not in table.column_names or "task" not in table.column_names:
        found.append(
            Finding("meta.tasks", TASKS_PATH, f"needs columns task_index and task, has {table.column_names}")
        )
        return None
    if pandas.get("index_columns") != ["task"]:
        found.append(
            Finding(
                "meta.tasks",
                TASKS_PATH,
                "the task text is not the pandas index named 'task': lerobot would return ints as tasks",
            )
        )
    return dict(zip(table["task"].to_pylist(), table["task_index"].to_pylist()))


def _load_stats(root: Path, found: list[Finding]) -> dict[str, FeatureStats | UnreadStats] | None:
    try:
        stats = json.loads((root / STATS_PATH).read_text(encoding="utf-8"))
    except FileNotFoundError:
        found.append(Finding("meta.stats", STATS_PATH, "missing: training code normalises with it"))
        return None
    except (OSError, ValueError) as err:
        found.append(Finding("meta.stats", STATS_PATH, f"unreadable: {err}"))
        return None
    if not isinstance(stats, dict):
        found.append(Finding("meta.stats", STATS_PATH, "is not a JSON object"))
        return None
    return read_stats_table(stats)


def _load_episodes(root: Path, found: list[Finding]) -> tuple[EpisodeEntry, ...]:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        found.append(
            Finding("meta.episodes", EPISODES_PATH.format(chunk_index=0, file_index=0), "no episodes file")
        )
    entries: list[EpisodeEntry] = []
    lacking: dict[str, list[str]] = {}  # optional column -> files without it
    for path in files:
        relative = str(path.relative_to(root))
        table = read_parquet(root, relative, found, "meta.episodes")
        if table is None:
            continue
        missing = [c for c in _EPISODE_COLUMNS if c not in table.column_names]
        if missing:
            found.append(Finding("meta.episodes", relative, f"lacks columns {missing}"))
            continue
        names = table.column_names
        for column, present in (("tasks", "tasks" in names), ("stats/*", any(n.startswith("stats/") for n in names))):
            if not present:
                lacking.setdefault(column, []).append(relative)
        entries += [_entry(row, relative) for row in table.to_pylist()]
    if lacking:  # one warning for the dataset, however many files
        where = sorted({file for files_ in lacking.values() for file in files_})
        found.append(Finding("meta.episodes", where[0] if len(where) == 1 else f"{len(where)} episodes files",
                             f"lacks the optional column(s) {', '.join(lacking)}: lerobot loads it without them, "
                             "but episode tasks and statistics cannot be checked", warning=True))
    return tuple(sorted(entries, key=lambda e: e.index))


def _entry(row: dict[str, Any], meta_file: str) -> EpisodeEntry:
    keys = [
        name.split("/")[1] for name in row if name.startswith("videos/") and name.endswith("/from_timestamp")
    ]
    videos = {
        key: VideoSpan(row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"],
                       row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"])
        for key in keys
    }  # fmt: skip
    raw: dict[str, dict[str, Any]] | None = None  # feature -> stat name -> nested lists
    for name, value in row.items():
        if name.startswith("stats/"):
            feature, stat = name[len("stats/") :].rsplit("/", 1)
            raw = {} if raw is None else raw
            raw.setdefault(feature, {})[stat] = value
    stats = None if raw is None else read_stats_table(raw)
    tasks = tuple(row["tasks"] or ()) if "tasks" in row else None
    return EpisodeEntry(
        row["episode_index"], tasks, row["length"], row["data/chunk_index"],
        row["data/file_index"], row["dataset_from_index"], row["dataset_to_index"], videos, stats, meta_file,
    )  # fmt: skip
