"""Assembles staged episodes into a LeRobot v3.0 dataset, and puts it in place atomically.

Layout is one file per episode (valid v3.0: the reader finds every episode through meta/episodes):
episode i -> data/chunk-{i//1000:03d}/file-{i%1000:03d}.parquet and the same index for each video key.
The whole dataset is built in `.{root.name}.tmp` beside `root`, then swapped in, so `root` only ever holds
a complete dataset: the old one until the new one is finished.
"""

from __future__ import annotations

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
    DATASET_GLOBAL_FEATURES,
    EPISODE_LOCAL_FEATURES,
    INFO_PATH,
    chunk_and_file,
    data_file,
    video_file,
)
from dataprep.lerobot.meta_writer import (
    PlacedEpisode,
    write_episodes_meta,
    write_info,
    write_stats,
    write_tasks,
)
from dataprep.lerobot.schema import (
    DatasetSchema,
    dataset_arrow_schema,
    info_features,
    staged_arrow_schema,
    with_fingerprint,
)
from dataprep.lerobot.stats import FeatureStats, column_stats
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
        write_episodes_meta(tmp, staged, placed, schema)
        write_tasks(tmp, tasks)
        features = info_features(schema, staged[0].camera_shapes, staged[0].videos)
        write_stats(tmp, features, placed)
        write_info(tmp, schema, features, staged, len(tasks))
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
) -> list[PlacedEpisode]:
    target = dataset_arrow_schema(schema)
    placed: list[PlacedEpisode] = []
    first_frame = 0
    for i, ep in enumerate(staged):
        chunk, file = chunk_and_file(i)
        place = PlacedEpisode(i, chunk, file, first_frame, task_index[ep.task], {})
        fingerprinted = with_fingerprint(target, f"{ep.source}:{ep.folder.name}:{i}")
        added = _rewrite_rows(ep, out / data_file(chunk, file), place, fingerprinted)
        for key in schema.camera_keys if schema.uses_video else ():
            _link(ep.video_path(key), out / video_file(key, chunk, file))
        placed.append(replace(place, stats={**ep.stats, **added}))
        first_frame += ep.length
    return placed


def _rewrite_rows(
    ep: StagedEpisode, dest: Path, place: PlacedEpisode, target: pa.Schema
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
