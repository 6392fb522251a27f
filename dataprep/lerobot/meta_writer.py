"""Writes a dataset's metadata as lerobot 0.6.1 writes it: meta/episodes, tasks, stats.json, info.json.

Column order, types and value conventions follow lerobot's writer (tests/test_golden.py compares them with
files lerobot wrote); the data and video files are placed by finalize.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import (
    DATASET_GLOBAL_FEATURES,
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_DATA_FILE_SIZE_IN_MB,
    DEFAULT_VIDEO_FILE_SIZE_IN_MB,
    INFO_PATH,
    STAT_NAMES,
    STATS_PATH,
    TASKS_INDEX_NAME,
    TASKS_PATH,
    VIDEO_PATH,
    episodes_file,
)
from dataprep.lerobot.schema import DatasetSchema
from dataprep.lerobot.stats import FeatureStats, aggregate_stats


@dataclass(frozen=True)
class PlacedEpisode:
    """Where one episode landed in the dataset."""

    index: int
    chunk: int
    file: int
    first_frame: int  # global `index` of its first row
    task_index: int
    stats: dict[str, FeatureStats]  # staged stats + episode_index, index, task_index (empty while writing)


def _stat_column_type(value: np.ndarray, name: str) -> pa.DataType:
    """As lerobot: count list<int64>, others list<double> nested once per axis (3 deep for images)."""
    if name == "count":
        return pa.list_(pa.int64())
    t: pa.DataType = pa.float64()
    for _ in range(max(value.ndim, 1)):
        t = pa.list_(t)
    return t


def _stat_value(stats: FeatureStats, name: str) -> np.ndarray:
    value = np.asarray(getattr(stats, name))
    return np.atleast_1d(value.astype(np.int64) if name == "count" else value.astype(np.float64))


def write_episodes_meta(
    out: Path, staged: Sequence[StagedEpisode], placed: list[PlacedEpisode], schema: DatasetSchema
) -> None:
    """meta/episodes/chunk-000/file-000.parquet: one row per episode, columns in lerobot's order."""
    fps = schema.fps
    columns: dict[str, tuple[pa.DataType, list[Any]]] = {}

    def put(name: str, dtype: pa.DataType, value: Any) -> None:
        columns.setdefault(name, (dtype, []))[1].append(value)

    # lerobot's streaming encoder adds video statistics after all the others; images keep feature order
    videos, images = (schema.camera_keys, ()) if schema.uses_video else ((), schema.camera_keys)
    feature_keys = [
        *schema.vector_keys,
        *images,
        "timestamp",
        "frame_index",
        *DATASET_GLOBAL_FEATURES,
        *videos,
    ]
    for ep, place in zip(staged, placed, strict=True):
        put("episode_index", pa.int64(), place.index)
        put("tasks", pa.list_(pa.string()), [ep.task])
        put("length", pa.int64(), ep.length)
        put("data/chunk_index", pa.int64(), place.chunk)
        put("data/file_index", pa.int64(), place.file)
        put("dataset_from_index", pa.int64(), place.first_frame)
        put("dataset_to_index", pa.int64(), place.first_frame + ep.length)
        for key in schema.camera_keys if schema.uses_video else ():
            put(f"videos/{key}/chunk_index", pa.int64(), place.chunk)
            put(f"videos/{key}/file_index", pa.int64(), place.file)
            put(f"videos/{key}/from_timestamp", pa.float64(), 0.0)
            put(f"videos/{key}/to_timestamp", pa.float64(), ep.length / fps)
        for key in feature_keys:
            for name in STAT_NAMES:
                value = _stat_value(place.stats[key], name)
                put(f"stats/{key}/{name}", _stat_column_type(value, name), value.tolist())
        put("meta/episodes/chunk_index", pa.int64(), 0)
        put("meta/episodes/file_index", pa.int64(), 0)
    table = pa.table({name: pa.array(values, type=dtype) for name, (dtype, values) in columns.items()})
    path = out / episodes_file(0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")


def write_tasks(out: Path, tasks: list[str]) -> None:
    """The task text must be the pandas index named "task"; as a plain column lerobot reads ints as tasks.

    Written with pyarrow and the pandas metadata of the pandas 2 that lerobot 0.6.1 installs: pandas 3
    would store the text as large_string with a numpy_type lerobot's pandas does not write.
    """
    table = pa.table(
        {
            "task_index": pa.array(range(len(tasks)), pa.int64()),
            TASKS_INDEX_NAME: pa.array(tasks, pa.string()),
        }
    )
    path = out / TASKS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata({"pandas": json.dumps(_TASKS_PANDAS_METADATA)}), path)


def _pandas_column(
    name: str | None, pandas_type: str, numpy_type: str, metadata: Any = None
) -> dict[str, Any]:
    return {
        "name": name,
        "field_name": name,
        "pandas_type": pandas_type,
        "numpy_type": numpy_type,
        "metadata": metadata,
    }


_TASKS_PANDAS_METADATA = {
    "index_columns": [TASKS_INDEX_NAME],
    "column_indexes": [_pandas_column(None, "unicode", "object", {"encoding": "UTF-8"})],
    "columns": [
        _pandas_column("task_index", "int64", "int64"),
        _pandas_column(TASKS_INDEX_NAME, "unicode", "object"),
    ],
    "attributes": {},
    "creator": {"library": "pyarrow", "version": pa.__version__},
    "pandas_version": "2.3.3",
}


def write_stats(out: Path, features: dict[str, dict[str, Any]], placed: list[PlacedEpisode]) -> None:
    stats: dict[str, dict[str, Any]] = {}
    for key in features:
        total = aggregate_stats([place.stats[key] for place in placed])
        stats[key] = {name: _stat_value(total, name).tolist() for name in STAT_NAMES}
    _write_json(out / STATS_PATH, stats)


def write_info(
    out: Path,
    schema: DatasetSchema,
    features: dict[str, dict[str, Any]],
    staged: Sequence[StagedEpisode],
    total_tasks: int,
    *,
    chunks_size: int = DEFAULT_CHUNKS_SIZE,
    data_files_size_in_mb: float = DEFAULT_DATA_FILE_SIZE_IN_MB,
    video_files_size_in_mb: float = DEFAULT_VIDEO_FILE_SIZE_IN_MB,
) -> DatasetInfo:
    """info.json of the dataset of `staged`; the packing limits are recorded as the files were packed."""
    info = DatasetInfo.from_json(
        {
            "fps": schema.fps,
            "features": features,
            "total_episodes": len(staged),
            "total_frames": sum(ep.length for ep in staged),
            "total_tasks": total_tasks,
            "chunks_size": chunks_size,
            "data_files_size_in_mb": data_files_size_in_mb,
            "video_files_size_in_mb": video_files_size_in_mb,
            "video_path": VIDEO_PATH if schema.uses_video else None,
            "robot_type": schema.robot_type,
            "splits": {"train": f"0:{len(staged)}"},
        },
        str(out / INFO_PATH),
    )
    info.write(out)
    return info


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
