"""What the viewer reads from a LeRobot v3.0 dataset, in pieces: metadata, then episodes file by file.

Any v3.0 dataset opens, whichever tool wrote it: everything is found through meta/info.json and
meta/episodes/ (as lerobot finds it). Only the columns the viewer shows are read, never the per-episode
`stats/*` columns, and the episodes parquet files are read one at a time, so memory does not grow with the
number of files. Our meta/quality.json is used when present.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import CODEBASE_VERSION, DEFAULT_FEATURES, INFO_PATH, TASKS_INDEX_NAME, TASKS_PATH
from dataprep.lerobot.quality_files import QUALITY_PATH, QualityDocument, read_document
from dataprep.viewer.errors import ViewerError

_EPISODE_COLUMNS = ("episode_index", "tasks", "length", "data/chunk_index", "data/file_index")
_VIDEO_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")


@dataclass(frozen=True)
class VectorSeries:
    """A numeric feature the episode page plots: its key, its length and the names of its elements."""

    key: str
    dims: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class DatasetMeta:
    """What every page needs to know about the dataset before reading any episode."""

    root: Path
    info: DatasetInfo
    tasks: tuple[str, ...]  # in task_index order
    vectors: tuple[VectorSeries, ...]
    video_keys: tuple[str, ...]
    image_keys: tuple[str, ...]


@dataclass(frozen=True)
class VideoSpan:
    """Where one camera's frames of an episode are: a dataset-relative mp4 and the span inside it."""

    key: str
    path: str
    from_s: float
    to_s: float


@dataclass(frozen=True)
class EpisodeRow:
    """One row of meta/episodes: the episode, its task(s), its length and where its data and videos are."""

    index: int
    tasks: tuple[str, ...]
    length: int
    data_path: str
    videos: tuple[VideoSpan, ...]


def _names(names: Any, dims: int) -> tuple[str, ...]:
    """Element names from info.json (a list, lerobot's older {"motors": [...]} dict, or null)."""
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    if isinstance(names, (list, tuple)) and len(names) == dims and all(isinstance(n, str) for n in names):
        return tuple(names)
    return tuple(str(i) for i in range(dims))


def read_meta(root: Path) -> DatasetMeta:
    """info.json and tasks.parquet of the dataset at `root`; a clear error when it is not a v3.0 dataset."""
    root = Path(root)
    if not root.is_dir():
        raise ViewerError(f"{root}: no such dataset folder")
    if not (root / INFO_PATH).is_file():
        raise ViewerError(f"{root}: not a LeRobot dataset ({INFO_PATH} is missing)")
    info = DatasetInfo.read(root)
    if info.codebase_version != CODEBASE_VERSION:
        raise ViewerError(f"{root / INFO_PATH}: codebase_version {info.codebase_version!r}; the viewer reads "
                          f"{CODEBASE_VERSION} (convert older datasets with lerobot's converter first)")
    try:
        table = pq.read_table(root / TASKS_PATH)
    except (OSError, pa.ArrowException) as err:
        raise ViewerError(f"{root / TASKS_PATH}: unreadable: {err}") from err
    names = table.column(TASKS_INDEX_NAME).to_pylist() if TASKS_INDEX_NAME in table.column_names else []
    tasks = tuple(text for _, text in sorted(zip(table.column("task_index").to_pylist(), names)))
    vectors = tuple(
        VectorSeries(key, _dims(feature.shape), _names(feature.names, _dims(feature.shape)))
        for key, feature in info.features.items()
        if key not in DEFAULT_FEATURES and feature.dtype.startswith(("float", "int", "uint", "bool"))
        and len(feature.shape) == 1
    )
    image_keys = tuple(key for key, f in info.features.items() if f.dtype == "image")
    return DatasetMeta(root, info, tasks, vectors, tuple(info.video_keys), image_keys)


def _dims(shape: tuple[int, ...]) -> int:
    return int(shape[0]) if shape else 1


def _episode_files(root: Path) -> list[Path]:
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise ViewerError(f"{root}: meta/episodes/ holds no episodes parquet")
    return files


def iter_episodes(meta: DatasetMeta) -> Iterator[EpisodeRow]:
    """Every episode in meta/episodes order, one parquet file and only the needed columns at a time."""
    for path in _episode_files(meta.root):
        try:
            parquet = pq.ParquetFile(path)
            present = set(parquet.schema_arrow.names)
            wanted = [c for c in _EPISODE_COLUMNS if c in present]
            wanted += [f"videos/{key}/{c}" for key in meta.video_keys for c in _VIDEO_COLUMNS
                       if f"videos/{key}/{c}" in present]
            missing = {"episode_index", "length"} - present
            if missing:
                raise ViewerError(f"{path}: no column {sorted(missing)[0]!r}")
            for batch in parquet.iter_batches(columns=wanted, batch_size=1024):
                for row in batch.to_pylist():
                    yield _episode_row(meta, row)
        except (OSError, pa.ArrowException) as err:
            raise ViewerError(f"{path}: unreadable: {err}") from err


def _episode_row(meta: DatasetMeta, row: dict[str, Any]) -> EpisodeRow:
    videos = tuple(
        VideoSpan(key, meta.info.video_file(key, row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"]),
                  float(row[f"videos/{key}/from_timestamp"]), float(row[f"videos/{key}/to_timestamp"]))
        for key in meta.video_keys if f"videos/{key}/chunk_index" in row
    )
    data = meta.info.data_file(row.get("data/chunk_index") or 0, row.get("data/file_index") or 0)
    return EpisodeRow(int(row["episode_index"]), tuple(row.get("tasks") or ()), int(row["length"]), data, videos)


def read_quality(root: Path) -> QualityDocument | None:
    """The dataset's quality report (totals and every entry); None without one (a dataset another tool wrote:
    the viewer shows no scores).

    Every part is read: a few hundred bytes per episode, small beside the data the viewer reads.
    """
    try:
        return read_document(Path(root))
    except DataprepError as err:
        raise ViewerError(f"{Path(root) / QUALITY_PATH}: unreadable quality report: {err}") from err
