"""One bag, one pass: read in time order, align, decode only what is kept, and stream it into episodes.

The episode writer flushes its rows every `chunk_size` frames of an episode; every `chunk_size` frames of
the bag the loop collects garbage and reports a memory snapshot. Nothing here holds more than a chunk of rows,
a few messages per topic and the encoders' queues, whatever the length of the bag.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.annotations import load_segments
from dataprep.conversion.containment import contained_failure
from dataprep.conversion.episode_sink import ChunkCallback, ChunkReport, EpisodeSink, FrameCallback, build_schema
from dataprep.conversion.memory_plan import resolve_conversion_config
from dataprep.conversion.quality import QualityTracker
from dataprep.conversion.staging import BagConversion, bag_key, reusable_conversion, staging_root
from dataprep.features import FeatureMapper
from dataprep.rosbag import BagError, BagReader, load_msg_folders
from dataprep.timeline import NS_PER_S, Aligner, AlignmentReport, Clock

__all__ = ["ChunkCallback", "ChunkReport", "FrameCallback", "build_schema", "convert_bag"]

logger = logging.getLogger(__name__)


def _empty_bag_error(bag: Path, aligner: Aligner) -> BagError:
    if aligner.silent_topics:
        return BagError(f"bag {bag}: no frame: required topics sent no message: {', '.join(aligner.silent_topics)}")
    reasons = "; ".join(f"{n} x {reason}" for reason, n in aligner.report.dropped.most_common(3)) or "none dropped"
    if aligner.report.emitted:
        return BagError(f"bag {bag}: no frame kept: all {aligner.report.emitted} aligned frame(s) were dropped; "
                        f"dropped: {reasons}")
    return BagError(f"bag {bag}: no frame could be aligned (the topics never overlap in time?); dropped: {reasons}")


def _stamp_problems(clock: Clock, report: AlignmentReport) -> dict[str, int]:
    late = {f"{topic}: arrived after a later tick was decided (raise clock.header_slack_s)": n
            for topic, n in report.late.items()}
    return {**clock.problems, **late}


def _summary(bag: Path, key: str, sink: EpisodeSink, report: AlignmentReport, mapper: FeatureMapper,
             start_ns: int, notes: tuple[str, ...], stamps: dict[str, int]) -> BagConversion:
    assert report.first_tick_ns is not None and report.last_tick_ns is not None
    return BagConversion(
        bag=str(bag), key=key, episodes=tuple(sink.episodes), excluded=tuple(sink.excluded), dims=sink.dims,
        dropped=dict(report.dropped), trimmed=dict(report.trimmed),
        filled_by_default=dict(report.filled_by_default), max_offset_ms=mapper.max_offsets_ms(report),
        span_s=((report.first_tick_ns - start_ns) / NS_PER_S, (report.last_tick_ns - start_ns) / NS_PER_S),
        notes=notes, stamp_problems=stamps,
    )


def _instruments(config: ConvertConfig, mapper: FeatureMapper, bag: Path) -> tuple[Clock, Aligner, QualityTracker]:
    """What times messages (receive or header), what puts them on the grid, and what measures the episodes."""
    clock = Clock(frozenset(c.topic for c in mapper.channels if config.clock.of(c.topic) == "header"),
                  round(config.clock.max_skew_s * NS_PER_S), str(bag))
    slack = round(config.clock.header_slack_s * NS_PER_S) if clock.header_topics else 0
    aligner = Aligner(mapper.channels, config.fps, mapper.clock_topic, config.timeline.sample_drop, slack)
    cameras = {config.camera_key(name): camera.topic for name, camera in config.cameras.items()}
    tracker = QualityTracker([(c.key, c.key in cameras) for c in mapper.channels], config.quality, cameras)
    return clock, aligner, tracker


class _Position:
    """Where the pass is in the bag, so a failure nobody foresaw can still say which topic and time."""

    def __init__(self) -> None:
        self.topic: str | None = None
        self.time_ns: int | None = None
        self.start_ns: int | None = None

    def describe(self) -> str:
        if self.topic is None or self.time_ns is None:
            return ""
        into = f", {(self.time_ns - self.start_ns) / NS_PER_S:.3f} s into the bag" if self.start_ns else ""
        return f"topic {self.topic}, message at t={self.time_ns} ns{into}"


def convert_bag(config: ConvertConfig, bag: Path, on_chunk: ChunkCallback | None = None,
                on_frame: FrameCallback | None = None) -> BagConversion:
    """Convert one bag into staged episodes; a bag finished by an earlier run is reused, not read again.

    Whatever goes wrong comes out as a `DataprepError`: the bag's own named failure, or a `RunError` when the
    output cannot take more (see `containment`); the original exception is chained for the logs.
    """
    if config.chunk_size == "auto":  # called without plan_conversion: plan this bag alone
        config, _ = resolve_conversion_config(config, [bag])
    position = _Position()
    try:
        return _convert_bag(config, bag, on_chunk, on_frame, position)
    except Exception as err:
        failure = contained_failure(err, bag, config.output_root, position.describe())
        if failure is err:
            raise
        logger.debug("%s failed", bag, exc_info=err)
        raise failure from err


def _convert_bag(config: ConvertConfig, bag: Path, on_chunk: ChunkCallback | None,
                 on_frame: FrameCallback | None, position: _Position) -> BagConversion:
    key = bag_key(bag, config)
    folder = staging_root(config) / key
    if (staged := reusable_conversion(folder)) is not None:
        logger.info("%s: reusing staged conversion %s", bag, folder)
        return staged
    shutil.rmtree(folder, ignore_errors=True)  # what a crashed or failed run, or an older version, left behind
    mapper = FeatureMapper(config)
    with BagReader(bag, load_msg_folders(config.types.msg_paths)) as reader:
        mapper.bind(reader)
        start, span = reader.start_ns, max(reader.end_ns - reader.start_ns, 1)
        annotations = config.episodes.annotations
        segments = load_segments(bag, annotations, start) if annotations else None
        clock, aligner, tracker = _instruments(config, mapper, bag)
        position.start_ns = start
        sink = EpisodeSink(config, folder, bag, mapper, aligner.report, tracker, segments,
                           lambda t: min(max((t - start) / span, 0.0), 1.0), on_chunk, start, on_frame)
        try:
            for message in reader.messages(aligner.topics):
                position.topic, position.time_ns = message.topic, message.time_ns
                time_ns = clock.time_of(message.topic, message.time_ns, message.msg)
                tracker.on_message(message.topic, message.time_ns, clock.last_skew_ns)
                if time_ns is None:
                    continue
                for frame in aligner.push(message.topic, time_ns, message.msg, message.time_ns):
                    sink.write(frame)
            position.topic = None
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
    if not sink.episodes:
        shutil.rmtree(folder, ignore_errors=True)
        raise BagError(f"bag {bag}: every episode fails the quality thresholds (quality.on_failing: exclude): "
                       + " | ".join("; ".join(e.quality.failing) for e in sink.excluded if e.quality))
    conversion = _summary(bag, key, sink, aligner.report, mapper, start, reader.notes,
                          _stamp_problems(clock, aligner.report))
    try:
        conversion.save(folder)
    except BaseException:  # a full disk can fail the marker too: leave nothing of the bag, not a bag without one
        shutil.rmtree(folder, ignore_errors=True)
        raise
    logger.info("%s: %d frames in %d episode(s), %d dropped", bag, conversion.frames, len(conversion.episodes),
                sum(conversion.dropped.values()))
    return conversion
