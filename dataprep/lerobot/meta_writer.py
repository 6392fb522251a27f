"""Writes a dataset's metadata as lerobot 0.6.1 writes it: meta/episodes, tasks, stats.json, info.json.

Column order, types and value conventions follow lerobot's writer (tests/test_golden.py compares them with
files lerobot wrote); the data and video files are placed by finalize.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.arrow_arrays import python_array
from dataprep.lerobot.info import DatasetInfo, FeatureInfo
from dataprep.lerobot.layout import (
    DATASET_GLOBAL_FEATURES,
    INFO_PATH,
    STAT_NAMES,
    STATS_PATH,
    TASKS_INDEX_NAME,
    TASKS_PATH,
    VIDEO_PATH,
    episodes_file,
)
from dataprep.lerobot.packing import FileRef, PackLimits, VideoPlace
from dataprep.lerobot.schema import DatasetSchema
from dataprep.lerobot.stats import FeatureStats, aggregate_stats


@dataclass(frozen=True)
class PlacedEpisode:
    """Where one episode landed in the dataset: one row of meta/episodes (written now, or read back)."""

    index: int
    length: int
    task: str
    task_index: int
    data: FileRef  # (chunk, file) of its rows
    first_frame: int  # global `index` of its first row
    videos: dict[str, VideoPlace]  # per camera key, video mode only
    stats: dict[str, FeatureStats]  # every feature's, the five defaults included


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


def write_episodes_meta(out: Path, placed: Sequence[PlacedEpisode], schema: DatasetSchema, where: FileRef) -> None:
    """The rows of `placed` as one episodes parquet at `where`, columns in lerobot's order."""
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
    for place in placed:
        put("episode_index", pa.int64(), place.index)
        put("tasks", pa.list_(pa.string()), [place.task])
        put("length", pa.int64(), place.length)
        put("data/chunk_index", pa.int64(), place.data[0])
        put("data/file_index", pa.int64(), place.data[1])
        put("dataset_from_index", pa.int64(), place.first_frame)
        put("dataset_to_index", pa.int64(), place.first_frame + place.length)
        for key in videos:
            video = place.videos[key]
            put(f"videos/{key}/chunk_index", pa.int64(), video.chunk)
            put(f"videos/{key}/file_index", pa.int64(), video.file)
            put(f"videos/{key}/from_timestamp", pa.float64(), video.from_timestamp)
            put(f"videos/{key}/to_timestamp", pa.float64(), video.to_timestamp)
        for key in feature_keys:
            for name in STAT_NAMES:
                value = _stat_value(place.stats[key], name)
                put(f"stats/{key}/{name}", _stat_column_type(value, name), value.tolist())
        put("meta/episodes/chunk_index", pa.int64(), where[0])
        put("meta/episodes/file_index", pa.int64(), where[1])
    table = pa.table({name: python_array(values, dtype) for name, (dtype, values) in columns.items()})
    path = out / episodes_file(*where)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")


def write_tasks(out: Path, tasks: list[str]) -> None:
    """The task text must be the pandas index named "task"; as a plain column lerobot reads ints as tasks.

    Written with pyarrow and the pandas metadata of the pandas 2 that lerobot 0.6.1 installs: pandas 3
    would store the text as large_string with a numpy_type lerobot's pandas does not write.
    """
    table = pa.table(
        {
            "task_index": python_array(range(len(tasks)), pa.int64()),
            TASKS_INDEX_NAME: python_array(tasks, pa.string()),
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


def write_stats(out: Path, features: Mapping[str, FeatureInfo], placed: Sequence[PlacedEpisode],
                committed: Mapping[str, FeatureStats] | None = None,
                quantiles: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
    """meta/stats.json over `placed`, merged with the `committed` aggregate of the episodes before them.

    Merging the aggregate equals aggregating every episode (the weights are counts, the variance is pooled),
    up to float rounding, so an append reads one small file instead of every episode's row. `quantiles`
    (stats_quantiles: exact) replaces the merged q01..q99 of the features it names.
    """
    stats: dict[str, dict[str, Any]] = {}
    for key in features:
        total = aggregate_stats([*((committed[key],) if committed else ()), *(place.stats[key] for place in placed)])
        stats[key] = {name: _stat_value(total, name).tolist() for name in STAT_NAMES}
        for name, value in (quantiles or {}).get(key, {}).items():
            stats[key][name] = np.asarray(value, dtype=np.float64).reshape(-1).tolist()
    _write_json(out / STATS_PATH, stats)


def write_info(
    out: Path,
    schema: DatasetSchema,
    features: Mapping[str, FeatureInfo],
    totals: tuple[int, int, int],
    limits: PackLimits,
) -> DatasetInfo:
    """info.json; `totals` are (episodes, frames, tasks) of the whole dataset, the packing limits are
    recorded as the files were packed."""
    episodes, frames, tasks = totals
    info = DatasetInfo.from_json(
        {
            "fps": schema.fps,
            "features": dict(features),
            "total_episodes": episodes,
            "total_frames": frames,
            "total_tasks": tasks,
            "chunks_size": limits.chunks_size,
            "data_files_size_in_mb": limits.data_files_size_in_mb,
            "video_files_size_in_mb": limits.video_files_size_in_mb,
            "video_path": VIDEO_PATH if schema.uses_video else None,
            "robot_type": schema.robot_type,
            "splits": {"train": f"0:{episodes}"},
        },
        str(out / INFO_PATH),
    )
    info.write(out)
    return info


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
