"""Packs staged episodes into shared v3.0 files: data parquets and per-camera mp4s up to lerobot's size limits.

lerobot's writer (0.6.1, `_save_episode_data` / `_save_episode_video`) appends each episode to the latest file
of its kind unless `latest size + episode size >= limit` (sizes in MiB); then the episode starts the next file,
`file_index + 1`, wrapping to `chunk_index + 1` after `chunks_size` files. An episode is never split, so one
larger than the limit sits alone in its file. Here the whole list is known up front, so the placement is
planned first (from the staged files' sizes), then each file is written once: parquet row group by row group
(memory stays one row group), mp4s by stream copy (no re-encoding). An episode's `from_timestamp` is where
its first frame sits in the shared file, as lerobot's reader looks for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.arrow_arrays import numpy_array
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.layout import (
    DATASET_GLOBAL_FEATURES,
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_DATA_FILE_SIZE_IN_MB,
    DEFAULT_VIDEO_FILE_SIZE_IN_MB,
    data_file,
    video_file,
)
from dataprep.lerobot.schema import with_fingerprint
from dataprep.lerobot.stats import FeatureStats, column_stats
from dataprep.lerobot.video_concat import concat_videos, probe_video
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.swap import link_or_copy

FileRef = tuple[int, int]  # (chunk_index, file_index)
_MIB = 1024 * 1024  # lerobot's get_file_size_in_mb divides by 1024**2


@dataclass(frozen=True)
class PackLimits:
    """info.json's three packing settings; lerobot's defaults."""

    data_files_size_in_mb: float = DEFAULT_DATA_FILE_SIZE_IN_MB
    video_files_size_in_mb: float = DEFAULT_VIDEO_FILE_SIZE_IN_MB
    chunks_size: int = DEFAULT_CHUNKS_SIZE


@dataclass(frozen=True)
class VideoPlace:
    """Where one episode's frames of one camera are: a file and the span inside it (seconds)."""

    chunk: int
    file: int
    from_timestamp: float
    to_timestamp: float


def next_file(ref: FileRef, chunks_size: int) -> FileRef:
    """The file after `ref`: file_index + 1, or the next chunk's first file after `chunks_size` files."""
    chunk, file = ref
    return (chunk + 1, 0) if file + 1 >= chunks_size else (chunk, file + 1)


def plan_files(sizes: Sequence[int], limit_mb: float, first: FileRef, chunks_size: int) -> list[FileRef]:
    """Each episode's file, given its size in bytes: appended to the current file while lerobot would."""
    places: list[FileRef] = []
    current, used_mb, count = first, 0.0, 0
    for size in sizes:
        mb = size / _MIB
        if count and used_mb + mb >= limit_mb:
            current, used_mb, count = next_file(current, chunks_size), 0.0, 0
        places.append(current)
        used_mb += mb
        count += 1
    return places


def _runs(places: Sequence[FileRef]) -> Iterator[tuple[FileRef, list[int]]]:
    """(file, the positions of its episodes) in order; a plan's files are contiguous runs."""
    for ref, group in groupby(range(len(places)), key=lambda i: places[i]):
        yield ref, list(group)


def write_data_files(
    out: Path,
    staged: Sequence[StagedEpisode],
    places: Sequence[FileRef],
    target: pa.Schema,
    first_episode: int,
    first_frame: int,
    task_indices: Sequence[int],
) -> list[dict[str, FeatureStats]]:
    """Write the planned data files under `out`; per episode the statistics of the three added columns.

    Each staged row group is copied as it is with `episode_index`, `index` and `task_index` added, so a file
    never holds more than one row group in memory; the fingerprint names the file's first episode, so a
    rerun writes the same bytes.
    """
    starts = np.cumsum([first_frame] + [ep.length for ep in staged])
    added: list[dict[str, FeatureStats]] = []
    for (chunk, file), members in _runs(places):
        dest = out / data_file(chunk, file)
        dest.parent.mkdir(parents=True, exist_ok=True)
        lead = staged[members[0]]
        schema = with_fingerprint(target, f"{lead.source}:{lead.folder.name}:{first_episode + members[0]}")
        with pq.ParquetWriter(dest, schema, compression="snappy") as writer:
            for i in members:
                ep, episode, start = staged[i], first_episode + i, int(starts[i])
                _append_rows(writer, ep, schema, episode, start, task_indices[i])
                frames = np.arange(start, start + ep.length)
                added.append({
                    "episode_index": column_stats(np.full(ep.length, episode), "episode_index"),
                    "index": column_stats(frames, "index"),
                    "task_index": column_stats(np.full(ep.length, task_indices[i]), "task_index"),
                })  # fmt: skip
        crash_point("pack-data-file")
    return added


def _append_rows(
    writer: pq.ParquetWriter, ep: StagedEpisode, target: pa.Schema, episode: int, start: int, task: int
) -> None:
    source = pq.ParquetFile(ep.data_path)
    for group in range(source.num_row_groups):
        table = source.read_row_group(group)
        n = table.num_rows
        values = {
            "episode_index": np.full(n, episode, dtype=np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": np.full(n, task, dtype=np.int64),
        }
        columns = table.columns + [numpy_array(values[key]) for key in DATASET_GLOBAL_FEATURES]
        writer.write_table(pa.Table.from_arrays(columns, schema=target), row_group_size=max(n, 1))
        start += n


def write_video_files(
    out: Path, staged: Sequence[StagedEpisode], key: str, places: Sequence[FileRef]
) -> list[VideoPlace]:
    """Write camera `key`'s planned mp4s under `out`; each episode's place.

    Several episodes: their packets one after another (stream copy). An episode alone in its file is
    hard-linked from staging (no copy; its span is the whole file, as when lerobot moves an episode's mp4 in).
    """
    result: list[VideoPlace] = []
    for (chunk, file), members in _runs(places):
        dest = out / video_file(key, chunk, file)
        sources = [staged[i].video_path(key) for i in members]
        if len(sources) == 1:
            link_or_copy(sources[0], dest)
            result.append(VideoPlace(chunk, file, 0.0, probe_video(dest).duration_s))
        else:
            spans = concat_videos(sources, dest)
            result += [VideoPlace(chunk, file, span.from_timestamp, span.to_timestamp) for span in spans]
        crash_point("pack-video-file")
    return result
