"""Assembles staged episodes into a LeRobot v3.0 dataset, and puts it in place atomically.

Layout is one file per episode (valid v3.0: the reader finds every episode through meta/episodes):
episode i -> data/chunk-{i//1000:03d}/file-{i%1000:03d}.parquet and the same index for each video key.
The whole dataset is built in `.{root.name}.tmp` beside `root`, then swapped in, so `root` only ever holds
a complete dataset: the old one until the new one is finished.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    DATASET_GLOBAL_FEATURES,
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_DATA_FILE_SIZE_IN_MB,
    DEFAULT_VIDEO_FILE_SIZE_IN_MB,
    EPISODE_LOCAL_FEATURES,
    INFO_PATH,
    STAT_NAMES,
    STATS_PATH,
    TASKS_INDEX_NAME,
    TASKS_PATH,
    VIDEO_PATH,
    chunk_and_file,
    data_file,
    episodes_file,
    video_file,
)
from dataprep.lerobot.schema import (
    DatasetSchema,
    dataset_arrow_schema,
    info_features,
    staged_arrow_schema,
    with_fingerprint,
)
from dataprep.lerobot.stats import FeatureStats, aggregate_stats, column_stats
from dataprep.lerobot.video import VideoInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSummary:
    """What finalize_dataset produced, for logs and artifacts."""

    root: Path
    repo_id: str
    episodes: int
    frames: int
    fps: int
    features: tuple[str, ...]  # every info.json feature, the five defaults included
    tasks: tuple[str, ...]  # in task_index order


@dataclass(frozen=True)
class _Placed:
    """Where one episode landed in the dataset."""

    index: int
    chunk: int
    file: int
    first_frame: int  # global `index` of its first row
    task_index: int
    stats: dict[str, FeatureStats]  # staged stats + episode_index, index, task_index (empty while writing)


def finalize_dataset(
    staged: Sequence[StagedEpisode], root: Path, repo_id: str, schema: DatasetSchema
) -> DatasetSummary:
    """Write the dataset of `staged` (episode i = staged[i]) at `root`, replacing what is there once done."""
    if not staged:
        raise DataprepError(f"{root}: no staged episodes to assemble into a dataset")
    root = Path(root)
    _check_replaceable(root)
    _check_episodes(staged, schema)
    tasks = list(dict.fromkeys(ep.task for ep in staged))  # order of first appearance
    tmp = root.parent / f".{root.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # leftover of a crashed run
    tmp.mkdir(parents=True)
    try:
        placed = _write_episodes(tmp, staged, schema, {task: i for i, task in enumerate(tasks)})
        _write_episodes_meta(tmp, staged, placed, schema)
        _write_tasks(tmp, tasks)
        features = info_features(schema, staged[0].camera_shapes, staged[0].videos)
        _write_stats(tmp, features, placed)
        _write_info(tmp, schema, features, staged, len(tasks))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_into_place(tmp, root)
    frames = sum(ep.length for ep in staged)
    logger.info("wrote %s: %d episodes, %d frames, %d tasks", root, len(staged), frames, len(tasks))
    return DatasetSummary(root, repo_id, len(staged), frames, schema.fps, tuple(features), tuple(tasks))


# -- checks --------------------------------------------------------------------------------------------


def _check_replaceable(root: Path) -> None:
    """Refuse to replace a folder that is not a dataset: the swap deletes the old content."""
    if root.exists() and not root.is_dir():
        raise DataprepError(f"{root} exists and is not a folder; choose another output path")
    if root.exists() and any(root.iterdir()) and not (root / INFO_PATH).is_file():
        raise DataprepError(
            f"{root} exists and is not a LeRobot dataset (no {INFO_PATH}); "
            "refusing to replace it - choose another output folder or remove it"
        )


def _check_episodes(staged: Sequence[StagedEpisode], schema: DatasetSchema) -> None:
    """All episodes must fit the schema and agree with the first one; messages name both sources."""
    target = dataset_arrow_schema(schema).remove_metadata()
    staged_columns = staged_arrow_schema(schema).names
    expected = pa.schema([target.field(name) for name in staged_columns])
    first = staged[0]
    for ep in staged:
        cameras = set(ep.camera_shapes)
        if cameras != set(schema.camera_keys):
            raise DataprepError(
                f"{ep.source} ({ep.folder}): cameras {sorted(cameras)} differ from the schema's "
                f"{sorted(schema.camera_keys)}"
            )
        for key, shape in ep.camera_shapes.items():
            if shape != first.camera_shapes[key]:
                raise DataprepError(
                    f"camera {key!r} is {shape[1]}x{shape[0]} in {ep.source} but "
                    f"{first.camera_shapes[key][1]}x{first.camera_shapes[key][0]} in {first.source}; "
                    "one dataset needs one image size per camera"
                )
        _check_vector_dims(ep, first, schema)
        _check_data_file(ep, first, expected)
        if schema.uses_video:
            _check_videos(ep, first, schema)


def _check_vector_dims(ep: StagedEpisode, first: StagedEpisode, schema: DatasetSchema) -> None:
    missing = [
        k for k in (*schema.vector_keys, *schema.camera_keys, *EPISODE_LOCAL_FEATURES) if k not in ep.stats
    ]
    if missing:
        raise DataprepError(f"{ep.source} ({ep.folder}): episode.json has no statistics for {missing}")
    for vec in schema.vectors:
        dim = ep.stats[vec.key].mean.size
        if dim == vec.dim:
            continue
        first_dim = first.stats[vec.key].mean.size
        elsewhere = f"{first_dim} in {first.source}" if first_dim == vec.dim else f"{vec.dim} in the schema"
        raise DataprepError(f"feature {vec.key!r} has dim {dim} in {ep.source} but {elsewhere}")


def _check_data_file(ep: StagedEpisode, first: StagedEpisode, expected: pa.Schema) -> None:
    try:
        meta = pq.read_metadata(ep.data_path)
        found = pq.read_schema(ep.data_path).remove_metadata()
    except (OSError, pa.ArrowException) as err:
        raise DataprepError(f"{ep.source}: cannot read staged rows {ep.data_path}: {err}") from err
    if not found.equals(expected):
        raise DataprepError(
            f"{ep.source}: columns of {ep.data_path} do not match the schema used for {first.source}:\n"
            f"found:\n{found}\nexpected:\n{expected}"
        )
    if meta.num_rows != ep.length:
        raise DataprepError(
            f"{ep.source}: {ep.data_path} holds {meta.num_rows} rows, episode.json says {ep.length}"
        )


def _video_format(info: VideoInfo) -> tuple[Any, ...]:
    return (info.codec_name, info.pix_fmt, info.width, info.height, info.fps)


def _check_videos(ep: StagedEpisode, first: StagedEpisode, schema: DatasetSchema) -> None:
    for key in schema.camera_keys:
        info = ep.videos.get(key)
        if info is None or not ep.video_path(key).is_file():
            raise DataprepError(f"{ep.source} ({ep.folder}): video of camera {key!r} is missing")
        if info.fps != schema.fps or info.frames != ep.length:
            raise DataprepError(
                f"{ep.source}: video {ep.video_path(key)} has {info.frames} frames at {info.fps} fps, "
                f"episode has {ep.length} rows at {schema.fps} fps"
            )
        if _video_format(info) != _video_format(first.videos[key]):
            raise DataprepError(
                f"camera {key!r} is encoded as {_video_format(info)} in {ep.source} but as "
                f"{_video_format(first.videos[key])} in {first.source}"
            )


# -- data and videos -----------------------------------------------------------------------------------


def _write_episodes(
    out: Path, staged: Sequence[StagedEpisode], schema: DatasetSchema, task_index: dict[str, int]
) -> list[_Placed]:
    target = dataset_arrow_schema(schema)
    placed: list[_Placed] = []
    first_frame = 0
    for i, ep in enumerate(staged):
        chunk, file = chunk_and_file(i)
        place = _Placed(i, chunk, file, first_frame, task_index[ep.task], {})
        fingerprinted = with_fingerprint(target, f"{ep.source}:{ep.folder.name}:{i}")
        added = _rewrite_rows(ep, out / data_file(chunk, file), place, fingerprinted)
        for key in schema.camera_keys if schema.uses_video else ():
            _link(ep.video_path(key), out / video_file(key, chunk, file))
        placed.append(replace(place, stats={**ep.stats, **added}))
        first_frame += ep.length
    return placed


def _rewrite_rows(
    ep: StagedEpisode, dest: Path, place: _Placed, target: pa.Schema
) -> dict[str, FeatureStats]:
    """Copy the staged rows row group by row group, adding episode_index, index and task_index.

    Returns the statistics of the three added columns.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = pq.ParquetFile(ep.data_path)
    start = place.first_frame
    with pq.ParquetWriter(dest, target, compression="snappy") as writer:
        for group in range(source.num_row_groups):
            table = source.read_row_group(group)
            n = table.num_rows
            added = {
                "episode_index": np.full(n, place.index, dtype=np.int64),
                "index": np.arange(start, start + n, dtype=np.int64),
                "task_index": np.full(n, place.task_index, dtype=np.int64),
            }
            columns = table.columns + [pa.array(added[key]) for key in DATASET_GLOBAL_FEATURES]
            writer.write_table(pa.Table.from_arrays(columns, schema=target), row_group_size=max(n, 1))
            start += n
    first, length = place.first_frame, ep.length
    return {
        "episode_index": column_stats(np.full(length, place.index), "episode_index"),
        "index": column_stats(np.arange(first, first + length), "index"),
        "task_index": column_stats(np.full(length, place.task_index), "task_index"),
    }


def _link(src: Path, dst: Path) -> None:
    """Hard-link a finished video into the dataset (no copy); copy when the filesystem cannot link."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# -- metadata ------------------------------------------------------------------------------------------


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


def _write_episodes_meta(
    out: Path, staged: Sequence[StagedEpisode], placed: list[_Placed], schema: DatasetSchema
) -> None:
    """meta/episodes/chunk-000/file-000.parquet: one row per episode, columns in lerobot's order."""
    fps = schema.fps
    columns: dict[str, tuple[pa.DataType, list[Any]]] = {}

    def put(name: str, dtype: pa.DataType, value: Any) -> None:
        columns.setdefault(name, (dtype, []))[1].append(value)

    # lerobot's streaming encoder adds video statistics after all the others; images keep feature order
    videos, images = (schema.camera_keys, ()) if schema.uses_video else ((), schema.camera_keys)
    feature_keys = [*schema.vector_keys, *images, "timestamp", "frame_index", *DATASET_GLOBAL_FEATURES, *videos]
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


def _write_tasks(out: Path, tasks: list[str]) -> None:
    """The task text must be the pandas index named "task"; as a plain column lerobot reads ints as tasks.

    Written with pyarrow and the pandas metadata of the pandas 2 that lerobot 0.6.1 installs: pandas 3
    would store the text as large_string with a numpy_type lerobot's pandas does not write.
    """
    table = pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), TASKS_INDEX_NAME: pa.array(tasks, pa.string())}
    )
    path = out / TASKS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata({"pandas": json.dumps(_TASKS_PANDAS_METADATA)}), path)


def _pandas_column(name: str | None, pandas_type: str, numpy_type: str, metadata: Any = None) -> dict[str, Any]:
    return {"name": name, "field_name": name, "pandas_type": pandas_type, "numpy_type": numpy_type,
            "metadata": metadata}


_TASKS_PANDAS_METADATA = {
    "index_columns": [TASKS_INDEX_NAME],
    "column_indexes": [_pandas_column(None, "unicode", "object", {"encoding": "UTF-8"})],
    "columns": [_pandas_column("task_index", "int64", "int64"), _pandas_column(TASKS_INDEX_NAME, "unicode", "object")],
    "attributes": {},
    "creator": {"library": "pyarrow", "version": pa.__version__},
    "pandas_version": "2.3.3",
}


def _write_stats(out: Path, features: dict[str, dict[str, Any]], placed: list[_Placed]) -> None:
    stats: dict[str, dict[str, Any]] = {}
    for key in features:
        total = aggregate_stats([place.stats[key] for place in placed])
        stats[key] = {name: _stat_value(total, name).tolist() for name in STAT_NAMES}
    _write_json(out / STATS_PATH, stats)


def _write_info(
    out: Path,
    schema: DatasetSchema,
    features: dict[str, dict[str, Any]],
    staged: Sequence[StagedEpisode],
    total_tasks: int,
) -> None:
    info = {
        "codebase_version": CODEBASE_VERSION,
        "fps": schema.fps,
        "features": features,
        "total_episodes": len(staged),
        "total_frames": sum(ep.length for ep in staged),
        "total_tasks": total_tasks,
        "chunks_size": DEFAULT_CHUNKS_SIZE,
        "data_files_size_in_mb": DEFAULT_DATA_FILE_SIZE_IN_MB,
        "video_files_size_in_mb": DEFAULT_VIDEO_FILE_SIZE_IN_MB,
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if schema.uses_video else None,
        "robot_type": schema.robot_type,
        "splits": {"train": f"0:{len(staged)}"},
    }
    _write_json(out / INFO_PATH, info)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


# -- swap ----------------------------------------------------------------------------------------------


def _swap_into_place(tmp: Path, root: Path) -> None:
    """Rename the old dataset away, the new one in, then delete the old one.

    Each step is one rename on the same filesystem; a crash between the two leaves the complete old
    dataset at `.{root.name}.old` and the complete new one at `.{root.name}.tmp`, never a partial `root`.
    """
    old = root.parent / f".{root.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        os.rename(root, old)
    try:
        os.rename(tmp, root)
    except OSError as err:
        if old.exists():
            os.rename(old, root)  # put the previous dataset back
        raise DataprepError(f"cannot move the new dataset {tmp} to {root}: {err}") from err
    shutil.rmtree(old, ignore_errors=True)
