"""Streams one episode into a staging folder: a parquet of its rows, one mp4 per camera, its statistics.

Staging folder layout (all names relative to the episode's folder):

    data.parquet        rows: user features (+ PNG images in image mode), timestamp, frame_index;
                        one row group per `chunk_size` frames; written as `.data.parquet.tmp` first
    videos/<key>.mp4    one per camera in video mode, encoded while frames arrive (VideoEncoder's tmp+rename)
    episode.json        the StagedEpisode record, written last: its presence marks a complete episode

Memory stays bounded by `chunk_size` rows whatever the episode length; frames go straight to the encoders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.row_buffer import RowBuffer, encode_png
from dataprep.lerobot.schema import DatasetSchema, VectorFeature, staged_arrow_schema
from dataprep.lerobot.stats import FeatureStats, column_stats
from dataprep.lerobot.video import VideoEncoder, VideoInfo, count_video_frames

logger = logging.getLogger(__name__)

DATA_FILE = "data.parquet"  # the episode's rows
DATA_TMP_FILE = ".data.parquet.tmp"  # the rows while being written; has no footer until closed
VIDEO_DIR = "videos"  # one `<key>.mp4` per camera
MARKER_FILE = "episode.json"  # StagedEpisode record; written last, so it marks completion
# Bumped when a staged episode changes incompatibly; part of every staging key (2: exact stats, lerobot's image counts)
STAGED_FORMAT = 2


@dataclass(frozen=True)
class StagedEpisode:
    """A finished staged episode; also saved as the folder's episode.json (written last)."""

    folder: Path
    length: int
    task: str
    source: str  # the bag the episode came from, for messages
    camera_shapes: dict[str, tuple[int, int, int]]  # camera key -> (h, w, 3)
    videos: dict[str, VideoInfo]  # empty in image mode
    stats: dict[str, FeatureStats]  # user features + timestamp + frame_index
    extra: dict[str, Any]  # opaque JSON-able summary the caller wants kept

    @property
    def data_path(self) -> Path:
        return self.folder / DATA_FILE

    def video_path(self, key: str) -> Path:
        return self.folder / VIDEO_DIR / f"{key}.mp4"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STAGED_FORMAT,
            "length": self.length,
            "task": self.task,
            "source": self.source,
            "camera_shapes": {k: list(v) for k, v in self.camera_shapes.items()},
            "videos": {k: dataclasses.asdict(v) for k, v in self.videos.items()},
            "stats": {k: v.to_dict() for k, v in self.stats.items()},
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, folder: Path, d: Mapping[str, Any]) -> StagedEpisode:
        if d.get("format") != STAGED_FORMAT:
            raise ValueError(
                f"format {d.get('format')!r} where this version writes {STAGED_FORMAT} (its statistics "
                "follow other conventions); remove the staging folder to convert the bag again"
            )
        return cls(
            folder=Path(folder),
            length=int(d["length"]),
            task=str(d["task"]),
            source=str(d["source"]),
            camera_shapes={k: (int(v[0]), int(v[1]), int(v[2])) for k, v in d["camera_shapes"].items()},
            videos={k: VideoInfo(**v) for k, v in d["videos"].items()},
            stats={k: FeatureStats.from_dict(v) for k, v in d["stats"].items()},
            extra=dict(d["extra"]),
        )

    @classmethod
    def load(cls, folder: Path) -> StagedEpisode:
        """Read a staged episode back; raises DataprepError naming the folder if it is not complete."""
        marker = Path(folder) / MARKER_FILE
        try:
            with marker.open(encoding="utf-8") as f:
                return cls.from_json(Path(folder), json.load(f))
        except FileNotFoundError:
            raise DataprepError(
                f"{folder}: not a finished staged episode ({MARKER_FILE} is missing)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            raise DataprepError(f"{folder}: {MARKER_FILE} is corrupt: {err!r}") from err

    def save(self) -> None:
        """Write episode.json atomically (tmp + rename), so a crash never leaves a half marker."""
        tmp = self.folder / f".{MARKER_FILE}.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        os.replace(tmp, self.folder / MARKER_FILE)


def remove_staged(folder: Path) -> None:
    """Delete what an EpisodeWriter may have put in `folder` (marker first), and the folder if then empty."""
    (folder / MARKER_FILE).unlink(missing_ok=True)
    (folder / f".{MARKER_FILE}.tmp").unlink(missing_ok=True)
    for name in (DATA_FILE, DATA_TMP_FILE):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / VIDEO_DIR, ignore_errors=True)
    with contextlib.suppress(OSError):  # absent, or holds files that are not ours
        folder.rmdir()


class EpisodeWriter:
    """Streams one episode into `folder`; a context manager that aborts (cleans the folder) on exception.

    Usage::

        with EpisodeWriter(folder, schema, task, source, chunk_size=1000) as writer:
            for vectors, images in frames:
                writer.add_frame(vectors, images)
            staged = writer.close(extra=report)
    """

    def __init__(self, folder: Path, schema: DatasetSchema, task: str, source: str, chunk_size: int) -> None:
        if chunk_size < 1:
            raise DataprepError(f"{source}: chunk_size must be >= 1, got {chunk_size}")
        if not task:
            raise DataprepError(f"{source}: an episode needs a non-empty task text")
        self.folder = Path(folder)
        self.schema = schema
        self.task = task
        self.source = source
        self.chunk_size = chunk_size
        self._arrow_schema = staged_arrow_schema(schema)
        self._buffer = RowBuffer(schema, chunk_size)
        self._frames = 0
        self._camera_shapes: dict[str, tuple[int, int, int]] = {}
        self._encoders: dict[str, VideoEncoder] = {}
        self._parquet: pq.ParquetWriter | None = None
        every_frame = schema.camera_storage == "video"  # lerobot's streaming convention, see image_stats
        self._image_stats = {
            c.key: ImageStats(every_frame, name=f"{source}: {c.key}", depth=bool(c.depth_unit))
            for c in schema.cameras
        }
        self._depth = {c.key for c in schema.cameras if c.depth_unit}
        self._result: StagedEpisode | None = None
        self._aborted = False
        remove_staged(self.folder)  # a new attempt replaces whatever an earlier one left, finished or not
        self.folder.mkdir(parents=True, exist_ok=True)
        if schema.uses_video:
            (self.folder / VIDEO_DIR).mkdir()

    @property
    def frames(self) -> int:
        """Frames added so far."""
        return self._frames

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._result is None and not self._aborted:
            self.close()  # the caller did not need the record; episode.json still holds it

    # -- frames --------------------------------------------------------------------------------------

    def add_frame(self, vectors: Mapping[str, np.ndarray], images: Mapping[str, np.ndarray]) -> None:
        """Append one frame: each vector feature as a 1-D array, each camera as an RGB uint8 (h, w, 3) image.

        Everything is validated before anything is stored, so a rejected frame leaves the episode as it was.
        """
        self._check_open()
        where = f"{self.source}, frame {self._frames}"
        _check_keys("vector", vectors, self.schema.vector_keys, where)
        _check_keys("camera", images, self.schema.camera_keys, where)
        values = {vec.key: _coerce_vector(vec, vectors[vec.key], where) for vec in self.schema.vectors}
        frames = {key: self._checked_image(key, images[key], where) for key in self.schema.camera_keys}
        if not self._camera_shapes and frames:
            try:
                self._start_cameras(frames)
            except DataprepError as err:
                raise DataprepError(f"{where}: {err}") from err
        try:
            row = self._buffer.rows
            for key, value in values.items():
                self._buffer.vectors[key][row] = value
            for key, image in frames.items():
                self._image_stats[key].update(image)
                if self.schema.camera_storage == "image":
                    self._buffer.images[key].append(encode_png(image))
                else:
                    self._encoders[key].write(image)
            self._buffer.rows += 1
            self._frames += 1
            if self._buffer.rows == self.chunk_size:
                self._flush()
        except BaseException:
            self.abort()  # a frame half stored cannot be taken back: the episode is lost
            raise

    def _checked_image(self, key: str, image: np.ndarray, where: str) -> np.ndarray:
        image = np.asarray(image)
        depth = key in self._depth
        shape = self._camera_shapes.get(key) or _check_image(key, image, where, depth)
        dtype = np.uint16 if depth else np.uint8
        if image.shape != shape or image.dtype != dtype:
            raise DataprepError(
                f"{where}: camera {key!r} changed to {image.dtype} {image.shape}; "
                f"the episode started with {np.dtype(dtype)} {shape}"
            )
        return image

    def _start_cameras(self, first: Mapping[str, np.ndarray]) -> None:
        """Fix each camera's size from the first frame and open its encoder; all or none."""
        if self.schema.camera_storage == "video":
            try:
                for key, image in first.items():
                    h, w, _ = image.shape
                    path = self.folder / VIDEO_DIR / f"{key}.mp4"
                    self._encoders[key] = VideoEncoder(path, self.schema.fps, w, h, self.schema.video)
            except BaseException:
                for encoder in self._encoders.values():
                    encoder.abort()
                self._encoders.clear()
                raise
        self._camera_shapes = {key: (image.shape[0], image.shape[1], image.shape[2]) for key, image in first.items()}

    def _flush(self) -> None:
        """Write the buffered rows as one row group."""
        buf = self._buffer
        if buf.rows == 0:
            return
        first = self._frames - buf.rows
        table = buf.table(first, self.schema.fps, self._arrow_schema)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(
                self.folder / DATA_TMP_FILE, self._arrow_schema, compression="snappy"
            )
        self._parquet.write_table(table, row_group_size=buf.rows)
        buf.clear()

    # -- finish --------------------------------------------------------------------------------------

    def close(self, extra: dict[str, Any] | None = None) -> StagedEpisode:
        """Flush, finish the files, check videos against rows, then write episode.json last."""
        if self._result is not None:
            return self._result
        self._check_open()
        if self._frames == 0:
            self.abort()
            raise DataprepError(f"{self.source}: episode has no frames; nothing to stage in {self.folder}")
        try:
            self._result = self._finish(extra or {})
        except BaseException:
            self.abort()
            raise
        return self._result

    def _finish(self, extra: dict[str, Any]) -> StagedEpisode:
        self._flush()
        assert self._parquet is not None
        self._parquet.close()
        self._parquet = None
        videos = self._close_videos()
        os.replace(self.folder / DATA_TMP_FILE, self.folder / DATA_FILE)
        stats = self._column_stats()
        stats.update({key: s.result() for key, s in self._image_stats.items()})
        staged = StagedEpisode(
            folder=self.folder,
            length=self._frames,
            task=self.task,
            source=self.source,
            camera_shapes=dict(self._camera_shapes),
            videos=videos,
            stats=stats,
            extra=extra,
        )
        staged.save()
        logger.debug("staged %s: %d frames in %s", self.source, self._frames, self.folder)
        return staged

    def _column_stats(self) -> dict[str, FeatureStats]:
        """Exact statistics of every staged column, read back one column at a time (episodes are small)."""
        rows = pq.ParquetFile(self.folder / DATA_FILE)
        stats = {}
        for vec in self.schema.vectors:
            column = rows.read(columns=[vec.key]).column(0).combine_chunks()
            values = column.flatten() if vec.dim > 1 else column
            flat = values.to_numpy(zero_copy_only=False).reshape(self._frames, vec.dim)
            stats[vec.key] = column_stats(flat, name=f"{self.source}: {vec.key}")
        frame_index = np.arange(self._frames, dtype=np.int64)
        stats["timestamp"] = column_stats((frame_index / self.schema.fps).astype(np.float32), "timestamp")
        stats["frame_index"] = column_stats(frame_index, "frame_index")
        return stats

    def _close_videos(self) -> dict[str, VideoInfo]:
        videos: dict[str, VideoInfo] = {}
        for key in list(self._encoders):
            info = self._encoders.pop(key).close()
            path = self.folder / VIDEO_DIR / f"{key}.mp4"
            decoded = count_video_frames(path)
            if info.frames != self._frames or decoded != self._frames:
                raise DataprepError(
                    f"{self.source}: video {path} holds {decoded} frames "
                    f"({info.frames} written) but the episode has {self._frames} rows"
                )
            videos[key] = info
        return videos

    def abort(self) -> None:
        """Stop and delete everything staged so far; never leaves an episode.json behind."""
        if self._aborted:
            return
        self._aborted = True
        self._result = None
        for encoder in self._encoders.values():
            try:
                encoder.abort()
            except Exception:  # cleaning up after another error: keep going
                logger.warning("%s: could not abort video encoder", self.source, exc_info=True)
        self._encoders.clear()
        if self._parquet is not None:
            try:
                self._parquet.close()
            except Exception:
                logger.warning("%s: could not close %s", self.source, DATA_TMP_FILE, exc_info=True)
            self._parquet = None
        remove_staged(self.folder)

    def _check_open(self) -> None:
        if self._aborted:
            raise DataprepError(f"{self.source}: episode writer for {self.folder} was aborted")
        if self._result is not None:
            raise DataprepError(f"{self.source}: episode writer for {self.folder} is already closed")


def _check_keys(kind: str, given: Mapping[str, Any], expected: tuple[str, ...], where: str) -> None:
    if set(given) != set(expected):
        missing = sorted(set(expected) - set(given))
        extra = sorted(set(given) - set(expected))
        raise DataprepError(
            f"{where}: {kind} features do not match the schema (missing {missing}, unknown {extra})"
        )


def _coerce_vector(vec: VectorFeature, value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (vec.dim,):
        raise DataprepError(f"{where}: feature {vec.key!r} has shape {arr.shape}, expected ({vec.dim},)")
    if arr.dtype.kind not in "biuf":
        raise DataprepError(f"{where}: feature {vec.key!r} has non-numeric dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DataprepError(f"{where}: feature {vec.key!r} holds NaN or inf: {arr.tolist()}")
    if vec.dtype == "int64" and arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise DataprepError(f"{where}: feature {vec.key!r} is int64 but got fractional values {arr.tolist()}")
    return arr.astype(vec.dtype, copy=False)


def _check_image(key: str, image: np.ndarray, where: str, depth: bool = False) -> tuple[int, int, int]:
    dtype, channels, kind = (np.uint16, 1, "a uint16 depth map") if depth else (np.uint8, 3, "RGB uint8")
    if image.dtype != dtype or image.ndim != 3 or image.shape[2] != channels or 0 in image.shape:
        raise DataprepError(
            f"{where}: camera {key!r} must be {kind} (h, w, {channels}), got {image.dtype} {image.shape}"
        )
    h, w, _ = image.shape
    return (h, w, channels)
