"""Concatenating per-episode mp4s into one shared v3.0 video file without re-encoding (PyAV stream copy).

LeRobot v3.0 packs many episodes into one mp4 per camera and finds each episode by `from_timestamp`: its
reader decodes the frame nearest `from_timestamp + k/fps` (within 1e-4 s) as the episode's frame k. lerobot
0.6.1 sets an episode's `from_timestamp` to the duration of the file before it was appended (stream
duration x time base) and `to_timestamp` to that plus the episode video's own duration; this module follows
the same convention, so a file packed here can later be extended by lerobot and vice versa.

Packets are copied as they are (no decode, no encode): each source's pts are shifted by the running
offset in the shared time base, so the first frame of a source lands exactly at its span's start. The dts
are shifted by the same offset and then by the source's decoding delay against the file's: x264 gives a
1-frame video dts = pts (no reordering delay) and a longer one a first dts one frame before its first pts,
so copied alike, the episode after a 1-frame one would repeat its dts (the mux fails) and the file's
duration (last dts + duration - first dts, what lerobot places the next appended episode at) would come
out a frame short. Every source is therefore given the largest delay among them (its dts moved earlier,
never past its pts), and the muxer writes the one edit list that delay needs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from dataprep.errors import DataprepError
from dataprep.storage import atomic_path

logger = logging.getLogger(__name__)

# Everything a packet copy reads (codec, size, extradata, time base, rate, start, frame count, the packets) is in
# the mp4 header and sample table. By default libavformat's find_stream_info also decodes the first frames of
# an h264 stream to learn its pixel format: 7 ms an open for a 640x480 file against 0.6 ms for the header
# alone, paid for every source of every compaction. An h264 stream's pixel format then reads None; the
# extradata (its SPS), which `StreamLayout` compares, fixes it anyway. AV1's is in its av1C box either way.
_HEADER_ONLY: dict[str, Any] = {
    "options": {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"},
    "stream_options": [{"skip_frame": "all"}],
}


class VideoConcatError(DataprepError):
    """Sources cannot be concatenated by stream copy; the message names the file and what differs."""


@dataclass(frozen=True)
class VideoSpan:
    """Where one source landed inside the concatenated file (seconds, lerobot's from/to_timestamp)."""

    source: Path
    from_timestamp: float
    to_timestamp: float
    frames: int


@dataclass(frozen=True)
class StreamLayout:
    """What every source of one shared file must agree on for its packets to decode as one stream.

    The codec's extradata (h264 SPS/PPS, AV1 sequence header) is written once into the file header, so a
    source encoded with other settings would decode with the wrong parameters: it has to match too.
    """

    codec: str
    width: int
    height: int
    pix_fmt: str | None  # None for h264 (not decoded, see _HEADER_ONLY): its extradata carries it
    time_base: Fraction
    rate: Fraction
    extradata: bytes

    def differences(self, other: StreamLayout) -> list[str]:
        return [
            f"{name} {getattr(other, name)!r} != {getattr(self, name)!r}"
            for name in ("codec", "width", "height", "pix_fmt", "time_base", "rate")
            if getattr(self, name) != getattr(other, name)
        ] + (["codec extradata (encoder settings) differs"] if self.extradata != other.extradata else [])


@dataclass(frozen=True)
class VideoFileInfo:
    """A video file's size and length read from its header only (no packet read): cheap for packing plans."""

    path: Path
    size_bytes: int
    frames: int
    duration_s: float  # as lerobot's get_video_duration_in_s: stream duration x time base
    layout: StreamLayout


def _open_header(path: Path) -> Any:
    """An mp4 opened for its header and packets only (nothing decoded)."""
    return av.open(str(path), **_HEADER_ONLY)


def _video_stream(container: Any, path: Path) -> Any:
    streams = container.streams
    if len(streams.video) != 1 or len(streams) != 1:
        raise VideoConcatError(
            f"{path}: expected exactly one video stream and nothing else, found {len(streams.video)} video "
            f"stream(s) among {len(streams)}"
        )
    return streams.video[0]


def _layout(stream: Any, path: Path) -> StreamLayout:
    ctx = stream.codec_context
    rate = stream.average_rate or stream.base_rate
    if stream.time_base is None or rate is None:
        raise VideoConcatError(f"{path}: video stream has no time base or frame rate")
    return StreamLayout(
        codec=ctx.codec.canonical_name, width=ctx.width, height=ctx.height, pix_fmt=ctx.pix_fmt,
        time_base=Fraction(stream.time_base), rate=Fraction(rate), extradata=bytes(ctx.extradata or b""),
    )  # fmt: skip


def probe_video(path: Path) -> VideoFileInfo:
    """Size, frame count and duration of an mp4 from its header, e.g. to decide whether an episode still fits."""
    try:
        with _open_header(path) as container:
            stream = _video_stream(container, path)
            layout = _layout(stream, path)
            if stream.duration is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = float(container.duration or 0) / av.time_base
            frames = int(stream.frames)
    except (av.FFmpegError, OSError) as err:
        raise VideoConcatError(f"{path}: cannot read video header: {err}") from err
    return VideoFileInfo(Path(path), Path(path).stat().st_size, frames, duration, layout)


def concat_videos(sources: Sequence[Path], dest: Path) -> list[VideoSpan]:
    """Write the sources' packets one after another into `dest` (atomically); one span per source.

    A source may itself be a concatenated file (extending the last file of a dataset): its span is then the
    whole file, and the caller keeps the spans it already knows inside it. `dest` may be one of the sources:
    every source is read before the new file replaces it. On any error no `dest` is written or changed.
    """
    if not sources:
        raise VideoConcatError(f"{dest}: no source videos to concatenate")
    paths = [Path(p) for p in sources]
    layout, delays = _check_layouts(paths)
    spans: list[VideoSpan] = []
    with atomic_path(Path(dest)) as tmp:
        try:
            with av.open(str(tmp), mode="w", format="mp4") as output:
                offset = _copy_all(paths, delays, output, layout, spans)
        except av.FFmpegError as err:
            raise VideoConcatError(f"{dest}: cannot write concatenated video: {err}") from err
    logger.debug("concatenated %d videos into %s (%d ticks)", len(paths), dest, offset)
    return spans


def _check_layouts(paths: list[Path]) -> tuple[StreamLayout, list[int]]:
    """All headers first, so a mismatch is reported before anything is written; each source's delay."""
    first, delays = _probe_delay(paths[0])
    for path in paths[1:]:
        layout, delay = _probe_delay(path)
        differences = first.differences(layout)
        if differences:
            raise VideoConcatError(
                f"{path}: cannot be concatenated after {paths[0]} without re-encoding: {'; '.join(differences)}"
            )
        delays.extend(delay)
    return first, delays


def _probe_delay(path: Path) -> tuple[StreamLayout, list[int]]:
    """The stream layout, and how many ticks the first packet's dts lies before the first frame's pts."""
    try:
        with _open_header(path) as container:
            stream = _video_stream(container, path)
            layout = _layout(stream, path)
            start = int(stream.start_time or 0)
            # closed at once, not when collected: a demux left open mid-file holds ~0.1 MB (300 sources: 30 MB)
            with closing(container.demux(stream)) as packets:
                for packet in packets:
                    if packet.size and packet.dts is not None:
                        return layout, [max(0, start - int(packet.dts))]
    except (av.FFmpegError, OSError) as err:
        raise VideoConcatError(f"{path}: cannot read video header: {err}") from err
    raise VideoConcatError(f"{path}: video has no frames")


def _copy_all(paths: list[Path], delays: list[int], output: Any, layout: StreamLayout,
              spans: list[VideoSpan]) -> int:
    """Copies each source's packets; returns the total duration in ticks of the shared time base."""
    out_stream = None
    offset = 0
    delay = max(delays)
    last_dts: list[int | None] = [None]  # the last dts written, across sources
    for path, source_delay in zip(paths, delays):
        try:
            with _open_header(path) as container:
                stream = _video_stream(container, path)
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream, opaque=True)
                    out_stream.time_base = layout.time_base
                ticks, frames = _copy_packets(path, container, stream, output, out_stream, offset,
                                              delay - source_delay, last_dts)
        except av.FFmpegError as err:
            raise VideoConcatError(f"{path}: cannot read video packets: {err}") from err
        tb = layout.time_base
        spans.append(VideoSpan(path, float(offset * tb), float((offset + ticks) * tb), frames))
        offset += ticks
    return offset


def _copy_packets(
    path: Path, container: Any, stream: Any, output: Any, out_stream: Any, offset: int, earlier: int,
    last_dts: list[int | None],
) -> tuple[int, int]:
    """Mux one source's packets shifted so its first presented frame sits at `offset`; (ticks, frames).

    Streams packet by packet: a source may be a 200 MB shared file. The header's start time (the edit
    list already applied by the demuxer) is where the source's first frame is presented. The dts move
    `earlier` ticks more (the file's delay minus the source's); a dts that would still not follow the last
    one written (an encoder with uneven dts) is set just after it, as long as it stays at or before its pts.
    """
    start = int(stream.start_time or 0)
    shift = offset - start
    first_pts: int | None = None
    end = start
    frames = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's end-of-stream flush packet
            continue
        if packet.pts is None or packet.dts is None or not packet.duration or packet.duration < 0:
            raise VideoConcatError(f"{path}: packet {frames} has no pts/dts/duration; cannot place it in time")
        if packet.is_discard:
            raise VideoConcatError(f"{path}: an edit list hides frames; a stream copy would show them")
        first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
        end = max(end, packet.pts + packet.duration)
        packet.pts += shift
        dts = packet.dts + shift - earlier
        previous = last_dts[0]
        if previous is not None and dts <= previous:
            dts = previous + 1
            if dts > packet.pts:
                raise VideoConcatError(f"{path}: packet {frames} cannot be decoded after the packets before it "
                                       f"(dts {dts} past its pts {packet.pts}); re-encode the episode")
        packet.dts = last_dts[0] = dts
        packet.stream = out_stream
        try:
            output.mux(packet)
        except av.FFmpegError as err:  # the output's fault (disk full...), not the source's
            raise VideoConcatError(f"{output.name}: cannot write packet {frames} of {path}: {err}") from err
        frames += 1
    if first_pts is None:
        raise VideoConcatError(f"{path}: video has no frames")
    if first_pts != start:
        raise VideoConcatError(f"{path}: first frame at pts {first_pts}, but the stream starts at {start}")
    if Fraction(out_stream.time_base) != Fraction(stream.time_base):
        raise VideoConcatError(f"{path}: muxer changed the time base to {out_stream.time_base}; spans would drift")
    return end - start, frames
