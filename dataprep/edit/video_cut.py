"""Cutting episodes out of shared mp4s: packet copy where the cut allows it, re-encoding only where it must.

A slice [start, stop) of an episode is copied packet for packet when its first frame is a keyframe and,
unless it runs to the episode's end, no packet in it is presented out of decode order (no B-frame needs a
frame after the cut). Anything else (a start between keyframes) is decoded and re-encoded with the
dataset's own encoder settings, for that episode only. Spans follow video_concat's convention: each
segment's first frame lands at the running offset, `from_timestamp` = offset x time base.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from dataprep.edit.source import EditError
from dataprep.lerobot.packing import VideoPlace
from dataprep.lerobot.video import VideoEncoder, VideoSettings
from dataprep.lerobot.video_concat import VideoConcatError, probe_video
from dataprep.storage import atomic_path


@dataclass(frozen=True)
class Segment:
    """Frames [start, stop) of an episode whose frame 0 sits at `from_timestamp` in `path`."""

    path: Path
    from_timestamp: float
    start: int
    stop: int
    fps: int

    def seconds(self, frame: int) -> float:
        return self.from_timestamp + frame / self.fps


def _open_stream(container: Any, path: Path) -> Any:
    if len(container.streams.video) != 1:
        raise EditError(f"{path}: expected one video stream, found {len(container.streams.video)}")
    return container.streams.video[0]


def _packets(container: Any, stream: Any, segment: Segment) -> Iterator[Any]:
    """The segment's packets in decode order (frames presented in [start, stop) of the episode)."""
    tb = Fraction(stream.time_base)
    half = Fraction(1, 2 * segment.fps)
    low, high = Fraction(segment.seconds(segment.start)) - half, Fraction(segment.seconds(segment.stop)) - half
    container.seek(max(0, int(low / tb)), stream=stream, backward=True, any_frame=False)
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        if packet.dts is not None and packet.dts * tb >= high:
            break  # decode order: every later packet is presented later still
        if low <= packet.pts * tb < high:
            yield packet


def copyable(segment: Segment, episode_length: int) -> bool:
    """Whether a packet copy of the segment decodes to exactly its frames."""
    with av.open(str(segment.path)) as container:
        packets = list(_packets(container, _open_stream(container, segment.path), segment))
    if len(packets) != segment.stop - segment.start or not packets[0].is_keyframe:
        return False
    presented = [p.pts for p in packets]
    return segment.stop == episode_length or presented == sorted(presented)


def decode_frames(segment: Segment) -> Iterator[np.ndarray]:
    """The segment's frames as RGB uint8, in order; exactly stop - start of them or an error naming the file."""
    count = 0
    try:
        with av.open(str(segment.path)) as container:
            stream = _open_stream(container, segment.path)
            tb = Fraction(stream.time_base)
            half = Fraction(1, 2 * segment.fps)
            low = Fraction(segment.seconds(segment.start)) - half
            high = Fraction(segment.seconds(segment.stop)) - half
            container.seek(max(0, int(low / tb)), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                t = frame.pts * tb
                if t >= high:
                    break
                if t >= low:
                    count += 1
                    yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise EditError(f"{segment.path}: cannot decode frames {segment.start}:{segment.stop}: {err}") from err
    if count != segment.stop - segment.start:
        raise EditError(f"{segment.path}: found {count} frames for {segment.start}:{segment.stop} of the episode")


def reencode(segment: Segment, dest: Path, settings: VideoSettings, width: int, height: int) -> Path:
    """Decode the segment and encode it alone into `dest` with the dataset's settings (the one re-encode)."""
    with VideoEncoder(dest, segment.fps, width, height, settings) as encoder:
        for frame in decode_frames(segment):
            encoder.write(frame)
        encoder.close()
    return dest


def write_segments(segments: Sequence[Segment], dest: Path, chunk: int, file: int) -> list[VideoPlace]:
    """Copy each segment's packets one after another into `dest` (atomically); one place per segment."""
    layouts = {s.path: probe_video(s.path).layout for s in segments}
    first = layouts[segments[0].path]
    for path, layout in layouts.items():
        if first.differences(layout):
            raise VideoConcatError(f"{path}: cannot share {dest} with {segments[0].path}: "
                                   f"{'; '.join(first.differences(layout))}")
    places: list[VideoPlace] = []
    tb = first.time_base
    with atomic_path(dest) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as output:
            out_stream = None
            offset = 0
            for segment in segments:
                with av.open(str(segment.path)) as container:
                    stream = _open_stream(container, segment.path)
                    if out_stream is None:
                        out_stream = output.add_stream_from_template(stream, opaque=True)
                        out_stream.time_base = tb
                    packets = list(_packets(container, stream, segment))
                    if len(packets) != segment.stop - segment.start:
                        raise EditError(f"{segment.path}: {len(packets)} packets for frames "
                                        f"{segment.start}:{segment.stop} at {segment.from_timestamp} s")
                    begin = min(p.pts for p in packets)
                    end = max(p.pts + p.duration for p in packets)
                    for packet in packets:
                        packet.pts += offset - begin
                        packet.dts += offset - begin
                        packet.stream = out_stream
                        output.mux(packet)
                places.append(VideoPlace(chunk, file, float(offset * tb), float((offset + end - begin) * tb)))
                offset += end - begin
    return places
