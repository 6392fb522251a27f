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
from collections.abc import Iterator, Sequence
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
# an h264 stream to learn its pixel format: 7 ms an open for a 640x480 file of noisy frames, 0.6 ms for the header
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
    delay = 0
    while True:  # again with a larger delay when a later source needs one (a 1-frame x264 episode first)
        spans: list[VideoSpan] = []
        try:
            with atomic_path(Path(dest)) as tmp:
                try:
                    with av.open(str(tmp), mode="w", format="mp4") as output:
                        offset = _copy_all(paths, delay, output, spans)
                except av.FFmpegError as err:
                    raise VideoConcatError(f"{dest}: cannot write concatenated video: {err}") from err
        except _LargerDelay as needed:
            delay = needed.delay
            continue
        logger.debug("concatenated %d videos into %s (%d ticks)", len(paths), dest, offset)
        return spans


class _LargerDelay(Exception):  # noqa: N818 - a restart signal, not an error
    """A source's first dts lies further before its first pts than the delay the file was begun with."""

    def __init__(self, delay: int) -> None:
        super().__init__(delay)
        self.delay = delay


def _copy_all(paths: list[Path], delay: int, output: Any, spans: list[VideoSpan]) -> int:
    """Copies each source's packets, one open a source; returns the total duration in ticks of the shared time
    base. A source whose layout differs from the first's is named before any of its packets is written (the
    caller's atomic write then leaves no file); one that needs a larger delay restarts the copy with it."""
    out_stream = None
    first: StreamLayout | None = None
    offset = 0
    last_dts: list[int | None] = [None]  # the last dts written, across sources
    for path in paths:
        try:
            with _open_header(path) as container:
                stream = _video_stream(container, path)
                layout = _layout(stream, path)
                if first is None:
                    first = layout
                elif differences := first.differences(layout):
                    raise VideoConcatError(f"{path}: cannot be concatenated after {paths[0]} without re-encoding: "
                                           f"{'; '.join(differences)}")
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream, opaque=True)
                    out_stream.time_base = layout.time_base
                # closed at once, not when collected: a demux left open mid-file holds ~0.1 MB
                with closing(container.demux(stream)) as demux:
                    packets = _with_delay(path, demux, int(stream.start_time or 0), delay)
                    ticks, frames = _copy_packets(path, packets, stream, output, out_stream, offset, last_dts)
        except (av.FFmpegError, OSError) as err:
            raise VideoConcatError(f"{path}: cannot read video packets: {err}") from err
        tb = layout.time_base
        spans.append(VideoSpan(path, float(offset * tb), float((offset + ticks) * tb), frames))
        offset += ticks
    return offset


def _with_delay(path: Path, demux: Iterator[Any], start: int, delay: int) -> Iterator[tuple[Any, int]]:
    """The source's packets, each with how many ticks earlier its dts must move: the file's `delay` minus the
    source's own (how far its first dts lies before its first pts). Raises `_LargerDelay` before the first."""
    earlier = None
    for packet in demux:
        if earlier is None and packet.size and packet.dts is not None:
            own = max(0, start - int(packet.dts))
            if own > delay:
                raise _LargerDelay(own)
            earlier = delay - own
        yield packet, earlier or 0
    if earlier is None:
        raise VideoConcatError(f"{path}: video has no frames")


def _copy_packets(
    path: Path, packets: Iterator[tuple[Any, int]], stream: Any, output: Any, out_stream: Any, offset: int,
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
    for packet, earlier in packets:
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
