"""Where aligned frames become episodes: opening, splitting, measuring and closing episode writers.

An episode ends at `max_episode_frames`, at a gap of the required topics longer than `episodes.split_on_gap_s`
(the ticks of the gap are counted as trimmed by the split, not as drops), and at the bounds of the bag's
annotated segments, each segment an episode with its own task. Each closed episode is measured by the quality
tracker; one that crosses a threshold is kept, excluded or fails the bag, as `quality.on_failing` says.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataprep.config import ConvertConfig
from dataprep.conversion.quality import QualityTracker
from dataprep.conversion.staging import EpisodeReport
from dataprep.features import DEPTH_UNIT, BadFrameError, FeatureMapper
from dataprep.lerobot.episode_writer import EpisodeWriter, remove_staged
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.video import VideoSettings
from dataprep.memory import take_snapshot
from dataprep.memory.snapshot import MemorySnapshot
from dataprep.rosbag import BagError
from dataprep.timeline import NS_PER_S, AlignedFrame, AlignmentReport

GAP_SPLIT = "split at a gap of the required topics (episodes.split_on_gap_s)"
OUTSIDE_SEGMENTS = "outside the annotated segments"


@dataclass(frozen=True)
class ChunkReport:
    """Sent after every chunk (and at the end of the bag) so callers can record memory and progress."""

    bag: str
    chunk: int
    frames: int  # frames written from this bag so far
    progress: float  # share of the bag's time span read, 0..1
    memory: MemorySnapshot


ChunkCallback = Callable[[ChunkReport], None]
FrameCallback = Callable[[int, float], None]  # frames written so far, share of the bag read: after every frame


@dataclass(frozen=True)
class Segment:
    """A span of the bag (absolute ns, end inclusive) that becomes one episode with its own task."""

    start_ns: int
    end_ns: int
    task: str


def build_schema(config: ConvertConfig, dims: dict[str, int]) -> DatasetSchema:
    """The dataset schema: vector lengths come from the data, the rest from the configuration."""
    return DatasetSchema(
        fps=config.fps,
        robot_type=config.robot_type,
        vectors=tuple(
            VectorFeature(key, dims[key], spec.dtype, spec.names) for key, spec in config.features.items()
        ),
        cameras=tuple(CameraFeature(config.camera_key(name), DEPTH_UNIT if camera.depth else None)
                      for name, camera in config.cameras.items()),
        camera_storage=config.camera_storage,
        video=VideoSettings(codec=config.video.codec, crf=config.video.crf, preset=config.video.preset,
                            g=config.video.g),
    )


class EpisodeSink:
    """Receives kept frames in tick order; everything it writes lives under `folder`."""

    def __init__(self, config: ConvertConfig, folder: Path, bag: Path, mapper: FeatureMapper,
                 report: AlignmentReport, tracker: QualityTracker, segments: Sequence[Segment] | None,
                 progress: Callable[[int], float], on_chunk: ChunkCallback | None, start_ns: int,
                 on_frame: FrameCallback | None = None) -> None:
        self.config, self.folder, self.bag, self.mapper = config, folder, bag, mapper
        self.report, self.tracker, self.segments = report, tracker, segments
        self.progress, self.on_chunk, self.on_frame, self.start_ns = progress, on_chunk, on_frame, start_ns
        self.writer: EpisodeWriter | None = None
        self.dims: dict[str, int] = {}
        self.episodes: list[EpisodeReport] = []
        self.excluded: list[EpisodeReport] = []
        self.frames = self.chunks = 0
        self._task = config.task
        self._segment: Segment | None = None
        self._first_tick = self._last_tick = 0
        self._split_ns = round(config.episodes.split_on_gap_s * NS_PER_S) if config.episodes.split_on_gap_s else 0

    def write(self, frame: AlignedFrame) -> None:
        if not self._place(frame.tick_ns):
            return
        try:
            record = self.mapper.frame(frame, self.writer.frames if self.writer is not None else 0)
        except BadFrameError as err:  # never garbage pixels: the frame goes, counted by reason
            self.report.dropped[err.reason] += 1
            self.tracker.on_drops([err.reason])
            return
        if self.writer is None:
            self._open(record.vectors, frame.tick_ns)
        assert self.writer is not None
        self.writer.write(record)
        self.tracker.on_frame(frame)
        self.frames += 1
        self._last_tick = frame.tick_ns
        if self.on_frame is not None:
            self.on_frame(self.frames, self.progress(frame.tick_ns))
        if self.frames % self.config.chunk_frames == 0:
            self._chunk_done(frame.tick_ns)
        if self.config.max_episode_frames and self.writer.frames >= self.config.max_episode_frames:
            self._close_episode()

    def _place(self, tick: int) -> bool:
        """Close the open episode where a segment or a gap ends it; False for a tick outside every segment."""
        if self.segments is not None:
            segment = next((s for s in self.segments if s.start_ns <= tick <= s.end_ns), None)
            if segment is not self._segment and self.writer is not None:
                self._close_episode()
            self._segment = segment
            if segment is None:
                self.report.trimmed[OUTSIDE_SEGMENTS] += 1
                return False
            self._task = segment.task
        gap = [(t, reason) for t, reason in self.report.recent_drops if t < tick]
        self.report.recent_drops[:] = [(t, reason) for t, reason in self.report.recent_drops if t >= tick]
        if self.writer is not None and self._split_ns and tick - self._last_tick > self._split_ns:
            self.report.dropped.subtract(Counter(reason for _, reason in gap))  # split at, not dropped through
            self.report.dropped = +self.report.dropped
            self.report.trimmed[GAP_SPLIT] += len(gap)
            self._close_episode()
        else:
            self.tracker.on_drops([reason for _, reason in gap])
        return True

    def _open(self, vectors: Mapping[str, np.ndarray], tick_ns: int) -> None:
        if not self.dims:
            self.mapper.validate_names(vectors)
            self.dims = {key: int(values.size) for key, values in vectors.items()}
        name = f"episode-{len(self.episodes) + len(self.excluded):04d}"
        self._first_tick = tick_ns
        self.writer = EpisodeWriter(self.folder / name, build_schema(self.config, self.dims), self._task,
                                    str(self.bag), self.config.chunk_frames)

    def _chunk_done(self, tick_ns: int) -> None:
        gc.collect()
        self.chunks += 1
        if self.on_chunk is not None:
            self.on_chunk(ChunkReport(str(self.bag), self.chunks, self.frames, self.progress(tick_ns), take_snapshot()))

    def _close_episode(self) -> None:
        assert self.writer is not None
        quality = self.tracker.close_episode(self.report)
        staged = self.writer.close(quality)  # episode.json keeps the episode's quality
        self.writer = None
        span = ((self._first_tick - self.start_ns) / NS_PER_S, (self._last_tick - self.start_ns) / NS_PER_S)
        episode = EpisodeReport(staged.folder.name, staged.length, staged.length / self.config.fps,
                                staged.task, span, quality)
        if not quality.failing or self.config.quality.on_failing == "keep":
            self.episodes.append(episode)
            return
        if self.config.quality.on_failing == "fail":
            raise BagError(f"bag {self.bag}: {staged.folder.name} ({span[0]:.2f}-{span[1]:.2f} s) fails the "
                           f"quality thresholds: {'; '.join(quality.failing)}")
        remove_staged(staged.folder)
        self.excluded.append(episode)

    def close(self, end_ns: int) -> None:
        if self.writer is not None:
            self._close_episode()
        if self.frames % self.config.chunk_frames:
            self._chunk_done(end_ns)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
