"""A glance at a finished dataset: a few frames of each camera and the vector features of its first episode.

Read back from the files a training job will read (parquet rows, mp4 or PNG cells), not from the converter's
memory, so what a person sees is what was written. Only the first `max_frames` frames of the episode are
looked at, so a preview costs the same for a 10 s and a 1 h recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.arrow_arrays import column_numpy, numpy_array
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.video import read_video_frames

THUMB_WIDTH = 240  # pixels: small enough that a dozen thumbnails stay a few hundred KB inside an artifact


@dataclass(frozen=True)
class EpisodePreview:
    """Per camera one JPEG of thumbnails side by side at frames `picks`; each vector feature's values."""

    episode: int
    frames: int  # frames of the episode looked at
    fps: int
    picks: tuple[int, ...]  # frame indices of the thumbnails, left to right
    strips: dict[str, bytes]  # camera key -> JPEG
    vectors: dict[str, np.ndarray]  # feature key -> (frames, dim)


def _picks(frames: int, count: int) -> list[int]:
    return sorted({round(i * (frames - 1) / max(count - 1, 1)) for i in range(count)}) if frames else []


def _strip(images: list[np.ndarray]) -> bytes:
    """RGB images scaled to THUMB_WIDTH and put side by side, 4 px apart, as one JPEG."""
    height = max(1, round(images[0].shape[0] * THUMB_WIDTH / images[0].shape[1]))
    gap = np.zeros((height, 4, 3), np.uint8)
    row = [part for image in images
           for part in (cv2.resize(image, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA), gap)][:-1]
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(np.hstack(row), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise DataprepError("cannot encode a preview thumbnail")
    return jpeg.tobytes()


def _decode_png(data: bytes, key: str) -> np.ndarray:
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)  # as the converter decodes
    if rgb is None:
        raise DataprepError(f"{key}: an image cell of episode 0 does not decode")
    return rgb


def first_episode_preview(root: Path, count: int = 3, max_frames: int = 300) -> EpisodePreview:
    """Episode 0 of the dataset at `root`: `count` thumbnails per camera and its vectors, from chunk 0 file 0."""
    info = DatasetInfo.read(root)
    table = _first_rows_of_episode_0(root / info.data_file(0, 0), max_frames)
    frames = min(table.num_rows, max_frames)
    picks = _picks(frames, count)
    vectors, strips = {}, {}
    for key, feature in info.features.items():
        if feature.dtype == "video" and picks:
            decoded = islice(read_video_frames(root / info.video_file(key, 0, 0)), frames)
            strips[key] = _strip([rgb for i, rgb in enumerate(decoded) if i in picks])
        elif feature.dtype == "image" and picks:
            cells = table.column(key).to_pylist()
            strips[key] = _strip([_decode_png(cells[i]["bytes"], key) for i in picks])
        elif feature.shape != (1,) and key in table.column_names:
            vectors[key] = np.asarray(table.column(key).to_pylist()[:frames], dtype=np.float64)
    return EpisodePreview(0, frames, info.fps, tuple(picks), strips, vectors)


def _first_rows_of_episode_0(path: Path, max_frames: int) -> pa.Table:
    """Episode 0's rows, up to `max_frames`, read row group by row group: episode 0 comes first in its file, so
    this stops at the first row group past it (not the whole file, which may hold hundreds of MB of PNGs), and
    never through pq.read_table's filters, which import pandas."""
    groups, rows = [], 0
    with pq.ParquetFile(path) as parquet:
        for number in range(parquet.num_row_groups):
            group = parquet.read_row_group(number)
            episode = column_numpy(group["episode_index"])
            groups.append(group.take(numpy_array(np.flatnonzero(episode == 0))))
            rows += groups[-1].num_rows
            if rows >= max_frames or (episode.size and episode[-1] != 0):
                break
        return pa.concat_tables(groups) if groups else parquet.schema_arrow.empty_table()
