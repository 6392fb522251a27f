"""Streams one episode into a staging folder (layout: `staged_episode`), from pieces with one job each.

    FrameCheck     validates a frame before anything is stored, so a rejected frame leaves the episode as it was
    CameraSink     video encoders (video mode) or a PNG encoder pool (image mode), rows handed back in order
    RowWriter      the parquet of the rows, in row groups bounded in rows (`chunk_size`) and in PNG bytes
    EpisodeStats   statistics: cameras frame by frame, columns read back once staged
    StagedEpisode  the record (episode.json), written last: its presence marks a complete episode

Memory stays flat whatever the episode length: a row group of rows, the encoders' queues and a few frames
in the PNG pool. `StagedEpisode`, `STAGED_FORMAT`, `remove_staged` and the layout's file names are
importable from here as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import numpy as np

from dataprep.errors import DataprepError
from dataprep.lerobot.camera_sink import camera_sink
from dataprep.lerobot.episode_quality import EpisodeQuality
from dataprep.lerobot.episode_stats import EpisodeStats
from dataprep.lerobot.frame import Frame, ReadyRow
from dataprep.lerobot.frame_check import FrameCheck
from dataprep.lerobot.row_buffer import RowWriter
from dataprep.lerobot.schema import DatasetSchema
from dataprep.lerobot.staged_episode import (
    DATA_FILE,
    DATA_TMP_FILE,
    MARKER_FILE,
    STAGED_FORMAT,
    VIDEO_DIR,
    StagedEpisode,
    remove_staged,
)

__all__ = [
    "DATA_FILE", "DATA_TMP_FILE", "MARKER_FILE", "STAGED_FORMAT", "VIDEO_DIR",
    "EpisodeWriter", "StagedEpisode", "remove_staged",
]  # fmt: skip

logger = logging.getLogger(__name__)


class EpisodeWriter:
    """Streams one episode into `folder`; a context manager that aborts (cleans the folder) on exception.

    Usage::

        with EpisodeWriter(folder, schema, task, source, chunk_size=1000) as writer:
            for frame in frames:  # Frame records, frame_index 0, 1, 2, ...
                writer.write(frame)
            staged = writer.close(quality=measured)

    `add_frame(vectors, images)` is the same for a caller that numbers frames by their order.
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
        self._frames = 0
        self._result: StagedEpisode | None = None
        self._aborted = False
        remove_staged(self.folder)  # a new attempt replaces whatever an earlier one left, finished or not
        self.folder.mkdir(parents=True, exist_ok=True)
        if schema.uses_video:
            (self.folder / VIDEO_DIR).mkdir()
        self._check = FrameCheck(schema)
        self._cameras = camera_sink(schema, self.folder / VIDEO_DIR, source)
        self._rows = RowWriter(schema, self.folder / DATA_TMP_FILE, self.folder / DATA_FILE, chunk_size)
        self._stats = EpisodeStats(schema, source, spill_dir=self.folder)

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

    def write(self, frame: Frame) -> None:
        """Append the next frame: each vector feature as a 1-D array, each camera as an RGB uint8 (h, w, 3) image.

        Everything is validated before anything is stored (its index and timestamp too: the next in order,
        at index / fps), so a rejected frame leaves the episode as it was.
        """
        self._check_open()
        where = f"{self.source}, frame {self._frames}"
        if frame.frame_index != self._frames:
            raise DataprepError(f"{where}: the frame is numbered {frame.frame_index}; an episode's frames come in "
                                f"order from 0, so this one must be {self._frames}")
        if frame.timestamp != frame.frame_index / self.schema.fps:
            raise DataprepError(f"{where}: timestamp {frame.timestamp!r} s, but lerobot requires frame_index / fps "
                                f"= {frame.frame_index / self.schema.fps!r} s (make frames with Frame.at)")
        checked = self._check.check(frame, where)
        if not self._check.camera_shapes and checked.images:
            try:
                self._cameras.start(checked.images)
            except DataprepError as err:
                raise DataprepError(f"{where}: {err}") from err
            self._check.fix_shapes(checked.images)
        try:
            self._stats.add_images(checked.images)
            self._write(self._cameras.add(checked))
            self._frames += 1
        except BaseException:
            self.abort()  # a frame half stored cannot be taken back: the episode is lost
            raise

    def add_frame(self, vectors: Mapping[str, np.ndarray], images: Mapping[str, np.ndarray]) -> None:
        """`write` the next frame, numbered by order (tests, benches and samples that hold plain arrays)."""
        self.write(Frame.at(self._frames, self.schema.fps, vectors, images))

    def _write(self, rows: list[ReadyRow]) -> None:
        for row in rows:
            self._rows.append(row)

    # -- finish --------------------------------------------------------------------------------------

    def close(self, quality: EpisodeQuality | None = None) -> StagedEpisode:
        """Flush, finish the files, check videos against rows, then write episode.json last (with the
        episode's measured `quality`, when the caller has one)."""
        if self._result is not None:
            return self._result
        self._check_open()
        if self._frames == 0:
            self.abort()
            raise DataprepError(f"{self.source}: episode has no frames; nothing to stage in {self.folder}")
        try:
            self._result = self._finish(quality)
        except BaseException:
            self.abort()
            raise
        return self._result

    def _finish(self, quality: EpisodeQuality | None) -> StagedEpisode:
        self._write(self._cameras.drain())
        self._rows.close()
        videos = self._cameras.close(self._frames)
        stats = self._stats.result(self.folder / DATA_FILE, self._frames)
        self._stats.close()
        staged = StagedEpisode(
            folder=self.folder,
            length=self._frames,
            task=self.task,
            source=self.source,
            camera_shapes=dict(self._check.camera_shapes),
            videos=videos,
            stats=stats,
            quality=quality,
        )
        staged.save()
        logger.debug("staged %s: %d frames in %s", self.source, self._frames, self.folder)
        return staged

    def abort(self) -> None:
        """Stop and delete everything staged so far; never leaves an episode.json behind."""
        if self._aborted:
            return
        self._aborted = True
        self._result = None
        self._cameras.abort()
        try:
            self._rows.abort()
        except Exception:  # cleaning up after another error: keep going
            logger.warning("%s: could not close %s", self.source, DATA_TMP_FILE, exc_info=True)
        try:
            self._stats.close()
        except Exception:  # e.g. a full disk: the files are closed all the same
            logger.warning("%s: could not close the image statistics' temporary files", self.source, exc_info=True)
        remove_staged(self.folder)

    def _check_open(self) -> None:
        if self._aborted:
            raise DataprepError(f"{self.source}: episode writer for {self.folder} was aborted")
        if self._result is not None:
            raise DataprepError(f"{self.source}: episode writer for {self.folder} is already closed")
