"""Builds the dataset of an edit's takes beside its destination and swaps it in, as a commit does.

The new version is written in `.{name}.tmp` (storage.swap), every file fsynced, metadata after the data,
meta/commit.json last (the swap's completion marker), then two renames put it in place: a kill at any
moment leaves the old version or the new one, and `recover_dataset` tidies up at the next start. Data and
video files whose content would not change are hard-linked; statistics are recomputed only for episodes
whose frames changed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.edit.episode_stats import frames_stats, numbering_stats, png_frames, rows_stats
from dataprep.edit.plan import FileKey, Take, assign_files, check_takes
from dataprep.edit.quantiles import write_edit_sketches
from dataprep.edit.rows import Numbered, write_data_files
from dataprep.edit.source import EditError
from dataprep.edit.video_cut import Segment, copyable, decode_frames, reencode, write_segments
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, recover_dataset
from dataprep.lerobot.finalize import write_document
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import STAT_NAMES, episodes_file
from dataprep.lerobot.meta_writer import write_tasks
from dataprep.lerobot.packing import VideoPlace, next_file
from dataprep.lerobot.stats import FeatureStats, aggregate_stats
from dataprep.lerobot.video import VideoSettings
from dataprep.lerobot.video_concat import VideoConcatError, probe_video
from dataprep.storage import write_json_atomic
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.markers import fsync_tree
from dataprep.storage.swap import discard_tmp, link_or_copy, swap_into_place, tmp_folder

logger = logging.getLogger(__name__)
SCRATCH = ".edit-scratch"  # re-encoded episodes wait here inside the new version until packed


@dataclass(frozen=True)
class NewVersion:
    """Everything the new version holds besides its takes."""

    tasks: tuple[str, ...]
    task_maps: Mapping[int, Mapping[int, int]]  # id(source) -> its task_index -> the new one
    record: CommitRecord
    documents: Mapping[str, Any] = field(default_factory=dict)  # dataset path -> JSON (quality.json, edits.json)


@dataclass(frozen=True)
class EditSummary:
    root: Path
    episodes: int
    frames: int
    linked_files: int
    reencoded_episodes: int


def build_dataset(takes: Sequence[Take], root: Path, version: NewVersion) -> EditSummary:
    """Write the dataset of `takes` (new episode i = takes[i]) at `root`, replacing what is there."""
    check_takes(takes)
    root = Path(root)
    recover_dataset(root)
    tmp = tmp_folder(root)
    discard_tmp(root, COMMIT_PATH)
    tmp.mkdir(parents=True)
    try:
        summary = _write(tmp, takes, version)
        fsync_tree(tmp)
        crash_point("edit-before-commit-record")
        version.record.save(tmp)
        crash_point("edit-commit-recorded")
    except BaseException:
        discard_tmp(root, COMMIT_PATH)
        raise
    swap_into_place(tmp, root)
    logger.info("wrote %s: %d episodes, %d frames (%d files linked, %d episodes re-encoded)", root,
                summary.episodes, summary.frames, summary.linked_files, summary.reencoded_episodes)
    return EditSummary(root, summary.episodes, summary.frames, summary.linked_files, summary.reencoded_episodes)


def _number(takes: Sequence[Take], version: NewVersion) -> list[Numbered]:
    positions = {id(s): i for i, s in enumerate(dict.fromkeys(t.source for t in takes))}
    chunks = takes[0].source.info.chunks_size
    keys: list[FileKey] = [(positions[id(t.source)], t.episode.data) for t in takes]
    files = assign_files(keys, chunks)
    numbered, frame = [], 0
    for i, (take, ref) in enumerate(zip(takes, files)):
        numbered.append(Numbered(take, i, frame, ref, version.task_maps.get(id(take.source), {})))
        frame += take.length
    return numbered


def _write(out: Path, takes: Sequence[Take], version: NewVersion) -> EditSummary:
    numbered = _number(takes, version)
    info = takes[0].source.info
    videos, reencoded, linked_videos = _write_videos(out, numbered)
    linked_data = write_data_files(out, numbered)
    stats = [_episode_stats(out, item, videos) for item in numbered]
    rows = [_episode_row(item, videos, stats[i]) for i, item in enumerate(numbered)]
    schema = takes[0].source.episodes_schema
    path = out / episodes_file(0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="snappy")
    write_tasks(out, list(version.tasks))
    crash_point("edit-meta-episodes")
    _write_stats(out, info, stats, takes, write_edit_sketches(out, numbered))
    for relative, document in version.documents.items():
        write_document(out / relative, document)
    frames = sum(t.length for t in takes)
    new_info = info.model_copy(update={"total_episodes": len(takes), "total_frames": frames,
                                       "total_tasks": len(version.tasks), "splits": {"train": f"0:{len(takes)}"}})
    new_info.write(out)
    shutil.rmtree(out / SCRATCH, ignore_errors=True)
    return EditSummary(out, len(takes), frames, len(linked_data) + linked_videos, reencoded)


# -- videos ----------------------------------------------------------------------------------------------


def _settings(info_dict: dict[str, Any]) -> VideoSettings:
    codec = {"av1": "libsvtav1", "h264": "h264"}.get(str(info_dict.get("video.codec")))
    if codec is None:
        raise EditError(f"cannot re-encode video of codec {info_dict.get('video.codec')!r}: only av1 and h264")
    preset = info_dict.get("video.preset")
    return VideoSettings(codec=codec, pix_fmt=str(info_dict.get("video.pix_fmt", "yuv420p")),  # type: ignore[arg-type]
                         crf=info_dict.get("video.crf"), preset=preset, g=int(info_dict.get("video.g") or 2))


def _write_videos(out: Path, numbered: Sequence[Numbered]) -> tuple[dict[str, list[VideoPlace]], int, int]:
    """Every camera's new files: each episode's place; how many episodes were re-encoded, files linked."""
    places: dict[str, list[VideoPlace]] = {}
    reencoded: set[int] = set()
    linked = 0
    positions = {id(s): i for i, s in enumerate(dict.fromkeys(n.take.source for n in numbered))}
    info = numbered[0].take.source.info
    for key in info.video_keys:
        keys: list[FileKey] = [(positions[id(n.take.source)], (n.take.episode.videos[key].chunk,
                                n.take.episode.videos[key].file)) for n in numbered]
        files = assign_files(keys, info.chunks_size)
        segments, alone = _segments(out, key, numbered, reencoded)
        result: list[VideoPlace | None] = [None] * len(numbered)
        last = max(files)
        for ref in dict.fromkeys(files):
            members = [i for i, f in enumerate(files) if f == ref and i not in alone]
            if not members:
                continue
            if _whole_file(numbered, members, key):
                take = numbered[members[0]].take
                source_place = take.episode.videos[key]
                link_or_copy(take.source.root / take.source.info.video_file(key, source_place.chunk,
                                                                             source_place.file),
                             out / info.video_file(key, *ref))
                for i in members:
                    p = numbered[i].take.episode.videos[key]
                    result[i] = VideoPlace(ref[0], ref[1], p.from_timestamp, p.to_timestamp)
                linked += 1
                continue
            for i, place in zip(members, write_segments([segments[i] for i in members],
                                                        out / info.video_file(key, *ref), *ref)):
                result[i] = place
            crash_point("edit-video-file")
        for i in sorted(alone):  # re-encoded with a header the file's others do not share: a file of its own
            last = next_file(last, info.chunks_size)
            result[i] = write_segments([segments[i]], out / info.video_file(key, *last), *last)[0]
        places[key] = [p for p in result if p is not None]
    return places, len(reencoded), linked


def _whole_file(numbered: Sequence[Numbered], members: list[int], key: str) -> bool:
    take0 = numbered[members[0]].take
    ref0 = take0.episode.videos[key]
    same = [ep for ep in take0.source.episodes
            if (ep.videos[key].chunk, ep.videos[key].file) == (ref0.chunk, ref0.file)]
    chosen = [numbered[i].take for i in members]
    return (all(t.whole and t.source is take0.source for t in chosen)
            and [t.episode.index for t in chosen] == [ep.index for ep in same])


def _segments(out: Path, key: str, numbered: Sequence[Numbered], reencoded: set[int]
              ) -> tuple[list[Segment], set[int]]:
    """Each take's segment; a cut that packet copy cannot make is re-encoded into the scratch folder."""
    segments, alone = [], set()
    for i, item in enumerate(numbered):
        take = item.take
        place = take.episode.videos[key]
        path = take.source.root / take.source.info.video_file(key, place.chunk, place.file)
        segment = Segment(path, place.from_timestamp, take.start, take.stop, take.source.info.fps)
        if not take.whole and not copyable(segment, take.episode.length):
            feature = take.source.info.features[key]
            height, width = feature.shape[0], feature.shape[1]
            dest = out / SCRATCH / key / f"episode-{i:06d}.mp4"
            dest.parent.mkdir(parents=True, exist_ok=True)
            reencode(segment, dest, _settings(feature.info or {}), width, height)
            segment = Segment(dest, 0.0, 0, take.length, take.source.info.fps)
            reencoded.add(i)
            if not _shares_layout(dest, path):
                alone.add(i)
        segments.append(segment)
    return segments, alone


def _shares_layout(new: Path, old: Path) -> bool:
    try:
        return not probe_video(old).layout.differences(probe_video(new).layout)
    except VideoConcatError:
        return False


# -- statistics and episode rows -----------------------------------------------------------------------


def _episode_stats(out: Path, item: Numbered, videos: dict[str, list[VideoPlace]]) -> dict[str, FeatureStats] | None:
    take = item.take
    info = take.source.info
    base = take.episode.stats
    if take.whole:
        if base is None:
            return None
        tasks = np.full(take.length, item.task_map.get(int(base["task_index"].min[0]), int(base["task_index"].min[0])))
        same_tasks = base["task_index"].min[0] == base["task_index"].max[0]
        numbers = numbering_stats(item.episode, item.first_frame, tasks)
        return {**base, **{k: v for k, v in numbers.items() if same_tasks or k != "task_index"}}
    name = f"{take.source.root} episode {take.episode.index}"
    rows = pq.read_table(out / info.data_file(*item.data), filters=[("episode_index", "=", item.episode)])
    stats = rows_stats(info, rows, name)
    every_frame = bool(info.video_keys)  # video: every frame, as the conversion counts it
    for key in info.video_keys:
        place = videos[key][item.episode]
        segment = Segment(out / info.video_file(key, place.chunk, place.file), place.from_timestamp, 0,
                          take.length, info.fps)
        stats[key] = frames_stats(decode_frames(segment), every_frame, f"{name}: {key}")
    for key in info.image_keys:
        stats[key] = frames_stats(png_frames(rows.column(key)), False, f"{name}: {key}")
    return stats


def _episode_row(item: Numbered, videos: dict[str, list[VideoPlace]],
                 stats: dict[str, FeatureStats] | None) -> dict[str, Any]:
    row = dict(item.take.episode.row)
    row.update({"episode_index": item.episode, "length": item.take.length, "data/chunk_index": item.data[0],
                "data/file_index": item.data[1], "dataset_from_index": item.first_frame,
                "dataset_to_index": item.first_frame + item.take.length,
                "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
    for key, places in videos.items():
        place = places[item.episode]
        row.update({f"videos/{key}/chunk_index": place.chunk, f"videos/{key}/file_index": place.file,
                    f"videos/{key}/from_timestamp": place.from_timestamp,
                    f"videos/{key}/to_timestamp": place.to_timestamp})
    for key, feature_stats in (stats or {}).items():
        for name in STAT_NAMES:
            column = f"stats/{key}/{name}"
            if column in row:
                value = np.asarray(getattr(feature_stats, name))
                row[column] = np.atleast_1d(value.astype(np.int64 if name == "count" else np.float64)).tolist()
    return row


def _write_stats(out: Path, info: DatasetInfo, stats: Sequence[dict[str, FeatureStats] | None], takes: Sequence[Take],
                 quantiles: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
    path = out / "meta/stats.json"
    if any(s is None for s in stats):
        logger.warning("%s: some episodes carry no statistics; meta/stats.json is kept as it was", takes[0].source.root)
        write_json_atomic(path, takes[0].source.stats_json, indent=4)
        return
    result: dict[str, dict[str, Any]] = {}
    for key in info.features:
        total = aggregate_stats([s[key] for s in stats if s is not None])
        result[key] = {name: np.atleast_1d(np.asarray(getattr(total, name))).tolist() for name in STAT_NAMES}
        for name, value in (quantiles or {}).get(key, {}).items():  # stats_quantiles: exact
            result[key][name] = np.asarray(value, dtype=np.float64).reshape(-1).tolist()
    write_json_atomic(path, result, indent=4)
