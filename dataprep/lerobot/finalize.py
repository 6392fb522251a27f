"""Assembles staged episodes into a LeRobot v3.0 dataset, packed into shared files, and commits it crash-safely.

The new version is built in `.{root.name}.tmp` beside `root`: in an append, the committed data, video and
episodes files are hard-linked in unchanged and the new episodes go to new files after the last ones (a
committed file is never modified in place); then data and videos are packed (packing.py), every file and
folder fsynced, metadata written last (episodes, tasks, stats, the caller's documents such as quality.json,
info.json) and the commit record last of all; then the folder is swapped in (storage.swap). A crash at any
moment leaves `root` as it was or as it is now, never a mix; `recover_dataset` tidies up at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, CommittedSource
from dataprep.lerobot.committed import CommittedDataset, read_committed
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.layout import EPISODE_LOCAL_FEATURES, INFO_PATH
from dataprep.lerobot.meta_writer import PlacedEpisode, write_episodes_meta, write_info, write_stats, write_tasks
from dataprep.lerobot.packing import (
    FileRef,
    PackLimits,
    VideoPlace,
    next_file,
    plan_files,
    write_data_files,
    write_video_files,
)
from dataprep.lerobot.quantiles import append_sketches, link_sketches
from dataprep.lerobot.schema import DatasetSchema, dataset_arrow_schema, info_features, staged_arrow_schema
from dataprep.lerobot.video import VideoInfo
from dataprep.storage import write_bytes_atomic, write_json_atomic
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.markers import fsync_tree
from dataprep.storage.swap import discard_tmp, swap_into_place, tmp_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSummary:
    """What finalize_dataset produced, for logs and artifacts (totals of the whole dataset)."""

    root: Path
    repo_id: str
    episodes: int
    frames: int
    fps: int
    features: tuple[str, ...]  # every info.json feature, the five defaults included
    tasks: tuple[str, ...]  # in task_index order


@dataclass(frozen=True)
class Commit:
    """How a new version relates to what is committed, and what it records.

    `append`: build on the dataset at root (if there is one) instead of replacing it. `sources`: the new
    episodes' origins, episode ranges counted from 0 in `staged`. `documents`: extra JSON files (dataset
    paths) written with the metadata, e.g. meta/quality.json.
    """

    append: bool = False
    settings_hash: str = ""
    sources: tuple[CommittedSource, ...] = ()
    documents: Mapping[str, Any] | None = None
    quantiles: str = "lerobot"  # stats_quantiles: lerobot (0.6.1's merge) or exact (lerobot/quantiles.py)


def finalize_dataset(
    staged: Sequence[StagedEpisode],
    root: Path,
    repo_id: str,
    schema: DatasetSchema,
    limits: PackLimits | None = None,
    commit: Commit | None = None,
) -> DatasetSummary:
    """Write the dataset of `staged` (new episode i = staged[i]) at `root`, after its committed episodes
    when appending; `root` changes only once the new version is complete. Default: lerobot's limits, a
    new dataset replacing whatever is at `root`, with an empty commit record."""
    limits, commit = limits or PackLimits(), commit or Commit()
    if not staged:
        raise DataprepError(f"{root}: no staged episodes to assemble into a dataset")
    root = Path(root)
    _check_replaceable(root)
    _check_episodes(staged, schema)
    base = read_committed(root) if commit.append and root.is_dir() and any(root.iterdir()) else None
    features = info_features(schema, staged[0].camera_shapes, staged[0].videos)
    if base is not None and base.info.features != features:
        raise DataprepError(
            f"{root}: the new episodes' features differ from the dataset's (info.json); set mode: rebuild "
            "(--set rosbag_to_lerobot.mode=rebuild) or choose a new repo_id"
        )
    tmp = tmp_folder(root)
    discard_tmp(root, COMMIT_PATH)  # leftover of a crashed run
    tmp.mkdir(parents=True)
    try:
        linked = (base.link_into(tmp) | link_sketches(base.root, tmp)) if base is not None else set()
        placed, tasks = _build(tmp, staged, schema, limits, base)
        exact = (append_sketches(tmp, base.root if base else None, base.episode_count if base else 0,
                                 [(ep.source, ep.data_path) for ep in staged], schema.vector_keys)
                 if commit.quantiles == "exact" and schema.vector_keys else None)
        # merged into the committed aggregate; exact quantiles from every episode's sketch
        write_stats(tmp, features, placed, base.stats if base else None, exact)
        crash_point("meta-stats")
        for relative, document in (commit.documents or {}).items():
            write_document(tmp / relative, document)
        offset = base.episode_count if base else 0
        episodes = offset + len(placed)
        frames = (base.frames if base else 0) + sum(ep.length for ep in placed)
        write_info(tmp, schema, features, (episodes, frames, len(tasks)), limits)
        fsync_tree(tmp, durable=linked)  # the committed files linked over are on disk already
        crash_point("before-commit-record")
        sources = (*(base.record.sources if base else ()), *(s.shifted(offset) for s in commit.sources))
        CommitRecord(commit.settings_hash, sources, episodes, frames).save(tmp, base.record if base else None)
        crash_point("commit-recorded")
    except BaseException:
        discard_tmp(root, COMMIT_PATH)
        raise
    swap_into_place(tmp, root)
    logger.info("wrote %s: %d new episodes, %d in all, %d frames, %d tasks",
                root, len(placed), episodes, frames, len(tasks))
    return DatasetSummary(root, repo_id, episodes, frames, schema.fps, tuple(features), tuple(tasks))


def write_document(path: Path, document: Any) -> None:
    """A caller's document: bytes written as they are (a JSON-lines part), anything else as JSON."""
    if isinstance(document, bytes):
        write_bytes_atomic(path, document)
    else:
        write_json_atomic(path, document)


def committed_summary(root: Path, repo_id: str) -> DatasetSummary:
    """The summary of the dataset committed at `root` (a run that had nothing to add)."""
    base = read_committed(root)
    return DatasetSummary(Path(root), repo_id, base.episode_count, base.frames, base.info.fps,
                          tuple(base.info.features), base.tasks)


def _build(
    out: Path, staged: Sequence[StagedEpisode], schema: DatasetSchema, limits: PackLimits,
    base: CommittedDataset | None,
) -> tuple[list[PlacedEpisode], list[str]]:
    """Pack the new episodes after the committed files (linked into `out` already), write their episodes rows
    and the tasks."""
    tasks = list(dict.fromkeys([*(base.tasks if base else ()), *(ep.task for ep in staged)]))  # committed keep theirs
    numbers = {task: i for i, task in enumerate(tasks)}
    task_indices = [numbers[ep.task] for ep in staged]

    def first(last: FileRef | None) -> FileRef:
        return (0, 0) if last is None else next_file(last, limits.chunks_size)

    data_places = plan_files([ep.data_path.stat().st_size for ep in staged], limits.data_files_size_in_mb,
                             first(base.last_data if base else None), limits.chunks_size)
    episode0 = base.episode_count if base else 0
    frame0 = base.frames if base else 0
    added = write_data_files(out, staged, data_places, dataset_arrow_schema(schema), episode0, frame0,
                             task_indices)
    videos: dict[str, list[VideoPlace]] = {}
    for key in schema.camera_keys if schema.uses_video else ():
        places = plan_files([ep.video_path(key).stat().st_size for ep in staged], limits.video_files_size_in_mb,
                            first(base.last_videos[key] if base else None), limits.chunks_size)
        videos[key] = write_video_files(out, staged, key, places)
    starts = accumulate((ep.length for ep in staged), initial=frame0)
    placed = [
        PlacedEpisode(
            index=episode0 + i, length=ep.length, task=ep.task, task_index=task_indices[i], data=data_places[i],
            first_frame=start, videos={key: places[i] for key, places in videos.items()},
            stats={**ep.stats, **added[i]},
        )
        for i, (ep, start) in enumerate(zip(staged, starts))
    ]  # fmt: skip
    write_episodes_meta(out, placed, schema, first(base.last_meta if base else None))
    write_tasks(out, tasks)
    return placed, tasks


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
