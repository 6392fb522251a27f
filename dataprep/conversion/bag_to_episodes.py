"""One bag, one pass: read in time order, align, decode only what is kept, and stream it into episodes.

The episode writer flushes its rows every `chunk_size` frames of an episode; every `chunk_size` frames of
the bag the loop collects garbage and reports a memory snapshot. Nothing here holds more than a chunk of rows,
a few messages per topic and the encoders' queues, whatever the length of the bag.
"""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.staging import BAG_MARKER, BagConversion, EpisodeReport, bag_key, staging_root
from dataprep.features import FeatureMapper
from dataprep.lerobot.episode_writer import EpisodeWriter
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.video import VideoSettings
from dataprep.memory import MemorySnapshot, take_snapshot
from dataprep.rosbag import BagError, BagReader
from dataprep.timeline import NS_PER_S, AlignedFrame, Aligner, AlignmentReport

logger = logging.getLogger(__name__)


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


def build_schema(config: ConvertConfig, dims: dict[str, int]) -> DatasetSchema:
    """The dataset schema: vector lengths come from the data, the rest from the configuration."""
    return DatasetSchema(
        fps=config.fps,
        robot_type=config.robot_type,
        vectors=tuple(
            VectorFeature(key, dims[key], spec.dtype, spec.names) for key, spec in config.features.items()
        ),
        cameras=tuple(CameraFeature(config.camera_key(name)) for name in config.cameras),
        camera_storage=config.camera_storage,
        video=VideoSettings(codec=config.video.codec, crf=config.video.crf, preset=config.video.preset,
                            g=config.video.g),
    )


class _EpisodeSink:
    """Opens, fills and closes episode writers; splits at `max_episode_frames` when asked to."""

    def __init__(self, config: ConvertConfig, folder: Path, bag: Path, mapper: FeatureMapper,
                 progress: Callable[[int], float], on_chunk: ChunkCallback | None,
                 on_frame: FrameCallback | None = None) -> None:
        self.config, self.folder, self.bag, self.mapper = config, folder, bag, mapper
        self.progress, self.on_chunk, self.on_frame = progress, on_chunk, on_frame
        self.writer: EpisodeWriter | None = None
        self.dims: dict[str, int] = {}
        self.episodes: list[EpisodeReport] = []
        self.frames = 0
        self.chunks = 0

    def write(self, frame: AlignedFrame) -> None:
        vectors = self.mapper.vectors(frame)
        if self.writer is None:
            self._open(vectors)
        assert self.writer is not None
        self.writer.add_frame(vectors, self.mapper.images(frame))
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(self.frames, self.progress(frame.tick_ns))
        if self.frames % self.config.chunk_size == 0:
            self._chunk_done(frame.tick_ns)
        if self.config.max_episode_frames and self.writer.frames >= self.config.max_episode_frames:
            self._close_episode()

    def _open(self, vectors: dict) -> None:
        if not self.dims:
            self.mapper.validate_names(vectors)
            self.dims = {key: int(values.size) for key, values in vectors.items()}
        name = f"episode-{len(self.episodes):04d}"
        self.writer = EpisodeWriter(self.folder / name, build_schema(self.config, self.dims), self.config.task,
                                    str(self.bag), self.config.chunk_size)

    def _chunk_done(self, tick_ns: int) -> None:
        gc.collect()
        self.chunks += 1
        if self.on_chunk is not None:
            self.on_chunk(ChunkReport(str(self.bag), self.chunks, self.frames, self.progress(tick_ns), take_snapshot()))

    def _close_episode(self) -> None:
        assert self.writer is not None
        staged = self.writer.close()
        self.writer = None
        self.episodes.append(EpisodeReport(staged.folder.name, staged.length, staged.length / self.config.fps))

    def close(self, end_ns: int) -> None:
        if self.writer is not None:
            self._close_episode()
        if self.frames % self.config.chunk_size:
            self._chunk_done(end_ns)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def _empty_bag_error(bag: Path, aligner: Aligner) -> BagError:
    if aligner.silent_topics:
        return BagError(f"bag {bag}: no frame: required topics sent no message: {', '.join(aligner.silent_topics)}")
    reasons = "; ".join(f"{n} x {reason}" for reason, n in aligner.report.dropped.most_common(3)) or "none dropped"
    return BagError(f"bag {bag}: no frame could be aligned (the topics never overlap in time?); dropped: {reasons}")


def _summary(bag: Path, key: str, sink: _EpisodeSink, report: AlignmentReport, mapper: FeatureMapper,
             start_ns: int) -> BagConversion:
    assert report.first_tick_ns is not None and report.last_tick_ns is not None
    return BagConversion(
        bag=str(bag), key=key, episodes=tuple(sink.episodes), dims=sink.dims,
        dropped=dict(report.dropped), trimmed=dict(report.trimmed),
        filled_by_default=dict(report.filled_by_default), max_offset_ms=mapper.max_offsets_ms(report),
        span_s=((report.first_tick_ns - start_ns) / NS_PER_S, (report.last_tick_ns - start_ns) / NS_PER_S),
    )


def convert_bag(config: ConvertConfig, bag: Path, on_chunk: ChunkCallback | None = None,
                on_frame: FrameCallback | None = None) -> BagConversion:
    """Convert one bag into staged episodes; a bag finished by an earlier run is reused, not read again."""
    key = bag_key(bag, config)
    folder = staging_root(config) / key
    if (folder / BAG_MARKER).exists():
        logger.info("%s: reusing staged conversion %s", bag, folder)
        return BagConversion.load(folder)
    shutil.rmtree(folder, ignore_errors=True)  # what a crashed or failed run left behind
    mapper = FeatureMapper(config)
    with BagReader(bag) as reader:
        mapper.bind(reader)
        aligner = Aligner(mapper.channels, config.fps, mapper.clock_topic, config.timeline.sample_drop)
        start, span = reader.start_ns, max(reader.end_ns - reader.start_ns, 1)
        sink = _EpisodeSink(config, folder, bag, mapper, lambda t: min(max((t - start) / span, 0.0), 1.0), on_chunk,
                            on_frame)
        try:
            for message in reader.messages(aligner.topics):
                for frame in aligner.push(message.topic, message.time_ns, message.msg):
                    sink.write(frame)
            for frame in aligner.finish():
                sink.write(frame)
            sink.close(reader.end_ns)
        except BaseException:
            sink.abort()
            shutil.rmtree(folder, ignore_errors=True)
            raise
    if not sink.frames:
        shutil.rmtree(folder, ignore_errors=True)
        raise _empty_bag_error(bag, aligner)
    conversion = _summary(bag, key, sink, aligner.report, mapper, start)
    conversion.save(folder)
    logger.info("%s: %d frames in %d episode(s), %d dropped", bag, conversion.frames, len(conversion.episodes),
                sum(conversion.dropped.values()))
    return conversion
