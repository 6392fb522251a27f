"""Where an episode's camera frames go, one sink per storage mode: video encoders, or PNGs for the rows.

Both take a checked `Frame` and hand back the rows ready to be written (`ReadyRow`), with the PNG cells they
carry (none in video mode). The writer need not know which mode it runs in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from dataprep.errors import DataprepError
from dataprep.lerobot.frame import Frame, ReadyRow
from dataprep.lerobot.png_pool import PngEncoderPool
from dataprep.lerobot.schema import DatasetSchema
from dataprep.lerobot.video import VideoEncoder, VideoInfo, count_video_frames
from dataprep.memory.snapshot import release_free_heap

logger = logging.getLogger(__name__)

_RowHead = tuple[int, float, Mapping[str, np.ndarray]]  # a frame's index, timestamp and vectors, for the PNG pool


class CameraSink(Protocol):
    def start(self, first: Mapping[str, np.ndarray]) -> None:
        """Open what the first frame's image sizes decide; all cameras or none."""

    def add(self, frame: Frame) -> list[ReadyRow]:
        """Take one frame; return the rows now ready, in frame order."""

    def drain(self) -> list[ReadyRow]:
        """The rows still in progress, once ready."""

    def close(self, frames: int) -> dict[str, VideoInfo]:
        """Finish every file and check it holds `frames` frames; the videos written, by camera key."""

    def abort(self) -> None:
        """Stop at once; leaves deleting files to the caller."""


def camera_sink(schema: DatasetSchema, video_dir: Path, source: str) -> CameraSink:
    if schema.camera_storage == "image":
        return PngSink(source)
    return VideoSink(schema, video_dir, source)


class VideoSink:
    """One VideoEncoder per camera; rows are ready as soon as their frames are queued for encoding."""

    def __init__(self, schema: DatasetSchema, video_dir: Path, source: str) -> None:
        self.schema, self.video_dir, self.source = schema, video_dir, source
        self._encoders: dict[str, VideoEncoder] = {}

    def start(self, first: Mapping[str, np.ndarray]) -> None:
        try:
            for key, image in first.items():
                h, w, _ = image.shape
                self._encoders[key] = VideoEncoder(self.video_path(key), self.schema.fps, w, h, self.schema.video)
        except BaseException:
            self.abort()
            raise

    def video_path(self, key: str) -> Path:
        return self.video_dir / f"{key}.mp4"

    def add(self, frame: Frame) -> list[ReadyRow]:
        for key, image in frame.images.items():
            self._encoders[key].write(image)
        return [ReadyRow(frame.frame_index, frame.timestamp, frame.vectors, {})]

    def drain(self) -> list[ReadyRow]:
        return []

    def close(self, frames: int) -> dict[str, VideoInfo]:
        videos: dict[str, VideoInfo] = {}
        for key in list(self._encoders):
            info = self._encoders.pop(key).close()
            path = self.video_path(key)
            decoded = count_video_frames(path)
            if info.frames != frames or decoded != frames:
                raise DataprepError(
                    f"{self.source}: video {path} holds {decoded} frames "
                    f"({info.frames} written) but the episode has {frames} rows"
                )
            videos[key] = info
        release_free_heap()  # the encoders' freed buffers, or the next episode and finalize stack on them
        return videos

    def abort(self) -> None:
        for encoder in self._encoders.values():
            try:
                encoder.abort()
            except Exception:  # cleaning up after another error: keep going
                logger.warning("%s: could not abort video encoder", self.source, exc_info=True)
        self._encoders.clear()
        release_free_heap()


class PngSink:
    """PNG-encodes every camera frame on a PngEncoderPool; a row is ready once all its PNGs are."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._pool: PngEncoderPool[_RowHead] | None = None

    def start(self, first: Mapping[str, np.ndarray]) -> None:  # noqa: ARG002 - CameraSink's signature
        self._pool = PngEncoderPool(self.source)

    def add(self, frame: Frame) -> list[ReadyRow]:
        if self._pool is None:  # an episode without cameras
            return [ReadyRow(frame.frame_index, frame.timestamp, frame.vectors, {})]
        return [ReadyRow(*head, pngs) for head, pngs in
                self._pool.submit((frame.frame_index, frame.timestamp, frame.vectors), frame.images)]

    def drain(self) -> list[ReadyRow]:
        return [ReadyRow(*head, pngs) for head, pngs in self._pool.drain()] if self._pool is not None else []

    def close(self, frames: int) -> dict[str, VideoInfo]:  # noqa: ARG002 - the rows hold the PNGs, counted
        if self._pool is not None:
            self._pool.close()
        return {}

    def abort(self) -> None:
        if self._pool is not None:
            self._pool.close()
