"""Streaming video encoding for LeRobot video features, with PyAV.

Frames are encoded while the bag is read, so an episode never sits in memory as images. Unlike lerobot's
streaming encoder, a full queue makes the producer wait instead of dropping the frame: a video with a
missing frame silently shifts every later frame against its parquet row.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import av
import cv2
import numpy as np

from dataprep.errors import DataprepError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CodecSpec:
    encoder: str  # PyAV/FFmpeg encoder name
    stream_codec: str  # codec name as read back from the stream, and as lerobot records it
    crf: int
    preset: int | str | None  # None: not passed, the encoder's own default


# lerobot 0.6.1's defaults (`VideoEncoderConfig`: g 2, crf 30; preset 12 for libsvtav1, none for h264, i.e.
# x264's "medium"), so a dataset of ours and one lerobot encoded carry the same settings and can be merged.
_CODECS: dict[str, _CodecSpec] = {
    "libsvtav1": _CodecSpec("libsvtav1", "av1", 30, 12),
    "h264": _CodecSpec("libx264", "h264", 30, None),
}
_PUT_POLL_S = 0.1  # how often a blocked producer checks that the encoder thread is still alive
# An encoder that takes no frame, or does not finish its flush, for this long is hung, not slow: a frame takes
# milliseconds even at load 14 on 2 cores. Failing the episode beats a nightly run that never ends.
_STALL_TIMEOUT_S = 300.0
_STOP = object()  # end-of-stream marker in the frame queue
# SVT-AV1 (4.1, g 2, three encoders on 2 busy cores) now and then hands out packets out of decode order: frame
# 2528 between 2502 and 2504, then every packet ~25 frames early for a while, one frame 150 packets late. The
# mp4 muxer refuses the first late one (EINVAL); most two-hour conversions failed on it. Every packet's dts is
# still its place in decode order (frames are one tick apart), so packets are held and muxed in dts order, each
# once the one before it has gone out. What is held is bounded: past this many bytes the oldest goes out and a
# packet later still is refused by the muxer, named.
_REORDER_BYTES = 32 * 2**20
_encoder_threads = 0  # per encoder; 0: the codec decides (it takes every core). See set_encoder_threads.


def set_encoder_threads(threads: int) -> None:
    """Bound the threads of every encoder this process opens from now on (0: the codec decides).

    A property of the process, as `cv2.setNumThreads` is, not of a video: a worker converting one bag of
    several at once gets cores / workers threads, so workers x threads fits the machine. The bound does not
    change the frames a reader decodes: SVT-AV1 writes the same bytes with any `lp`, and x264's bitstream
    differs with `threads` but decoded to the same frames when checked (tests/test_parallel.py compares the
    decoded frames of 1 and 2 workers). It is set once in each worker process before its first bag.
    """
    global _encoder_threads  # noqa: PLW0603 - one process-wide budget, set by the worker that owns the process
    if threads < 0:
        raise DataprepError(f"encoder threads must be >= 0, got {threads}")
    _encoder_threads = threads
    if threads:  # image mode's PNG pool (png_pool.py) sizes itself from OpenCV's thread count: the same share
        cv2.setNumThreads(threads)


def _thread_options(encoder: str) -> dict[str, str]:
    """SVT-AV1 ignores FFmpeg's thread count and sizes its pools from the cores unless `lp` says otherwise."""
    if _encoder_threads and encoder == "libsvtav1":
        return {"svtav1-params": f"lp={_encoder_threads}"}
    return {}


class VideoEncodingError(DataprepError):
    """A video file could not be written; the message names the file."""


@dataclass(frozen=True)
class VideoSettings:
    """Encoder choice shared by every video feature of a dataset, so all files decode alike."""

    codec: Literal["libsvtav1", "h264"] = "libsvtav1"
    pix_fmt: str = "yuv420p"
    crf: int | None = None  # None: lerobot's default, 30
    preset: int | str | None = None  # None: lerobot's default, 12 for libsvtav1, x264's own (medium) for h264
    g: int = 2  # GOP size: lerobot's default, keeps random access to any frame cheap

    def __post_init__(self) -> None:
        if self.codec not in _CODECS:
            raise DataprepError(f"unsupported video codec {self.codec!r}; use one of {sorted(_CODECS)}")

    def resolved_crf(self) -> int:
        return self.crf if self.crf is not None else _CODECS[self.codec].crf

    def resolved_preset(self) -> int | str | None:
        """None: no preset is passed (the encoder's default), recorded as null as lerobot records it."""
        return self.preset if self.preset is not None else _CODECS[self.codec].preset

    def codec_options(self) -> dict[str, str]:
        """FFmpeg private options; strings because that is what libavcodec parses (as lerobot's
        `get_codec_options`: g, crf, and preset only when there is one)."""
        preset = self.resolved_preset()
        options = {"g": str(self.g), "crf": str(self.resolved_crf())}
        return options if preset is None else {**options, "preset": str(preset)}


@dataclass(frozen=True)
class VideoInfo:
    """What info.json must say about a finished video, so the reader decodes it as it was written."""

    codec_name: str
    pix_fmt: str
    width: int
    height: int
    fps: int
    frames: int
    g: int
    crf: int
    preset: int | str | None

    def to_info_dict(self) -> dict[str, Any]:
        """The camera's `info` in info.json, key for key as lerobot 0.6.1's `get_video_info` writes it.

        `aggregate_datasets` merges only datasets whose feature dicts are equal, this `info` included: the
        stream-derived keys first, then the encoder settings (lerobot's `VideoEncoderConfig` fields, at
        their defaults where we have no such setting), then `is_depth_map` (not the legacy
        `video.is_depth_map`, which 0.6.1 migrates with a warning).
        """
        return {
            "video.height": self.height, "video.width": self.width, "video.codec": self.codec_name,
            "video.pix_fmt": self.pix_fmt, "video.fps": self.fps, "video.channels": 3, "has_audio": False,
            "video.g": self.g, "video.crf": self.crf, "video.preset": self.preset,
            "video.fast_decode": 0, "video.video_backend": "pyav", "video.extra_options": {},
            "is_depth_map": False,
        }  # fmt: skip


def _quiet_encoders() -> None:
    """SVT-AV1 prints 'Svt[info]' banners from C straight to stderr; only its env var silences them.

    PyAV's own FFmpeg logging stays as PyAV leaves it (off): turning it on routes every FFmpeg message,
    including those logged from the codec's worker threads, through a callback that takes the GIL, which
    can deadlock the whole process against a thread waiting on those workers (PyAV issues #751, #909).
    The errors still arrive as `av.FFmpegError`, which the producer re-raises with the file name.
    """
    os.environ.setdefault("SVT_LOG", "1")


def _check_size(path: Path, width: int, height: int, pix_fmt: str) -> None:
    """Chroma-subsampled formats need sizes that are multiples of the subsampling; FFmpeg's own error is cryptic."""
    try:
        fmt = av.VideoFormat(pix_fmt)
    except ValueError as err:
        raise DataprepError(f"{path}: unknown pix_fmt {pix_fmt!r}") from err
    step_w, step_h = 4 // fmt.chroma_width(4), 4 // fmt.chroma_height(4)
    if width <= 0 or height <= 0 or width % step_w or height % step_h:
        raise DataprepError(
            f"{path}: {pix_fmt} cannot encode a {width}x{height} image; width must be a multiple of {step_w} "
            f"and height of {step_h} (crop or pad the camera image, or use pix_fmt yuv444p)"
        )


class VideoEncoder:
    """Encodes RGB frames to an mp4 in a background thread; the file appears at `path` only when complete."""

    def __init__(
        self, path: Path, fps: int, width: int, height: int, settings: VideoSettings, queue_frames: int = 8
    ) -> None:
        spec = _CODECS[settings.codec]
        if fps <= 0:
            raise DataprepError(f"{path}: fps must be positive, got {fps}")
        _check_size(path, width, height, settings.pix_fmt)
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp.mp4")
        self._shape = (height, width, 3)
        self._info = VideoInfo(
            spec.stream_codec, settings.pix_fmt, width, height, fps, 0,
            settings.g, settings.resolved_crf(), settings.resolved_preset(),
        )  # fmt: skip
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_frames))
        self._aborted = threading.Event()
        self._error: BaseException | None = None
        self._frames = 0
        self._result: VideoInfo | None = None
        self._ended = False  # the codec has been sent end-of-stream
        self._last_dts: int | None = None  # of the last packet muxed, named when the muxer refuses one
        self._held: list[tuple[int, int, av.Packet[Any]]] = []  # (dts, arrival, packet): a heap, see _mux
        self._held_bytes = 0
        self._arrival = itertools.count()
        self._reordered = 0  # packets the encoder handed out after a later one
        self._last_in: int | None = None  # the highest dts the encoder has handed out
        self._hung = False  # waited _STALL_TIMEOUT_S on the thread once already: no second wait on abort
        _quiet_encoders()
        self._container = self._open(spec.encoder, settings)
        self._thread = threading.Thread(target=self._run, name=f"encode-{self.path.name}", daemon=True)
        self._thread.start()

    def _open(self, encoder: str, settings: VideoSettings) -> Any:
        """Opens the codec here, not on the first frame, so bad settings fail at construction."""
        if not self.path.parent.is_dir():
            raise DataprepError(f"{self.path}: folder {self.path.parent} does not exist")
        container = None
        try:
            container = av.open(str(self._tmp), mode="w", format="mp4")  # the .tmp name hides the format
            options = {**settings.codec_options(), **_thread_options(encoder)}
            stream = container.add_stream(encoder, rate=self._info.fps, options=options)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = self._info.width, self._info.height, settings.pix_fmt
            # One tick per frame: frame k lands at exactly k/fps, which lerobot checks to 1e-4 s.
            stream.codec_context.time_base = Fraction(1, self._info.fps)
            stream.codec_context.thread_type = "AUTO"  # measured ~20% faster on 2 cores than the default
            stream.codec_context.thread_count = _encoder_threads
            stream.codec_context.open()
        except (av.FFmpegError, OSError, ValueError) as err:
            if container is not None:
                container.close()
            self._tmp.unlink(missing_ok=True)
            raise DataprepError(f"{self.path}: cannot open {encoder} with {settings}: {err}") from err
        self._stream = stream
        return container

    def write(self, frame: np.ndarray) -> None:
        """Queue one RGB uint8 frame; blocks while the encoder is behind rather than drop it."""
        self._check_usable()
        if frame.shape != self._shape or frame.dtype != np.uint8:
            raise DataprepError(
                f"{self.path}: expected an RGB uint8 frame of shape {self._shape}, "
                f"got {frame.dtype} {tuple(frame.shape)}"
            )
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")  # copies
        video_frame.pts = self._frames
        video_frame.time_base = Fraction(1, self._info.fps)
        self._put(video_frame)
        self._frames += 1

    def close(self) -> VideoInfo:
        """Flush the encoder and move the finished file into place; the only way `path` gets written."""
        if self._result is not None:
            return self._result
        try:
            self._check_usable()
            if self._frames == 0:
                raise DataprepError(f"{self.path}: no frames were written; an empty video is not valid")
            self._put(_STOP)
            self._join()
            if self._error is not None:
                self._raise_error()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._result = replace(self._info, frames=self._frames)
        logger.debug("wrote %s (%d frames)", self.path, self._frames)
        return self._result

    def abort(self) -> None:
        """Stop without a result and delete the partial file, so a failed episode leaves nothing behind."""
        if self._result is not None or self._aborted.is_set():
            return  # once is enough: a second wait on a hung thread would only double the delay
        self._aborted.set()
        self._drain()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)  # wake the thread if it waits on an empty queue
        try:
            self._join()
        except VideoEncodingError as err:  # the error that led here is the one to report; this one is logged
            logger.error("%s", err)
        self._tmp.unlink(missing_ok=True)  # a thread left behind writes on to an unlinked file

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _check_usable(self) -> None:
        if self._aborted.is_set():
            raise DataprepError(f"{self.path}: encoder was aborted")
        if self._result is not None:
            raise DataprepError(f"{self.path}: encoder is already closed")
        if self._error is not None:
            self._raise_error()

    def _raise_error(self) -> None:
        err = self._error
        raise VideoEncodingError(f"{self.path}: video encoding failed: {err!r}") from err

    def _put(self, item: Any) -> None:
        """Waits while the encoder is alive and behind (never drops a frame), but not on a dead or hung one."""
        deadline = time.monotonic() + _STALL_TIMEOUT_S
        while True:
            if self._error is not None:
                self._raise_error()
            if not self._thread.is_alive():
                raise VideoEncodingError(f"{self.path}: encoder thread stopped unexpectedly")
            try:
                self._queue.put(item, timeout=_PUT_POLL_S)
                return
            except queue.Full:
                if time.monotonic() > deadline:
                    self._hung = True
                    raise VideoEncodingError(
                        f"{self.path}: encoder took no frame for {_STALL_TIMEOUT_S:g} s; giving up on a hung codec"
                    ) from None

    def _join(self) -> None:
        """A thread stuck in a C call cannot be stopped; leaving it behind (a daemon) beats a hung run."""
        if not self._hung:
            self._thread.join(_STALL_TIMEOUT_S)
        if self._thread.is_alive():
            self._hung = True
            raise VideoEncodingError(
                f"{self.path}: encoder did not finish within {_STALL_TIMEOUT_S:g} s; giving up on a hung codec"
            )

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def _run(self) -> None:
        """The encoder thread: owns the codec and the container from the first frame to the last."""
        try:
            while (item := self._queue.get()) is not _STOP and not self._aborted.is_set():
                self._mux(self._stream.encode(item))
            if not self._aborted.is_set():
                self._ended = True
                self._mux(self._stream.encode(None), flush=True)
        except BaseException as err:  # noqa: BLE001 - handed to the producer, which re-raises it with the file name
            self._error = err  # a producer waiting on the full queue sees it within _PUT_POLL_S
        finally:
            self._release_codec()

    def _mux(self, packets: list[av.Packet[Any]], flush: bool = False) -> None:
        """Mux the codec's packets in decode order (see `_REORDER_BYTES`); on `flush` (end of stream) every held
        packet goes out. A packet in its turn goes straight through: an encoder that keeps order holds nothing."""
        for packet in packets:
            if packet.dts is None:  # nothing to order it by: what came before goes first, then this one
                self._write_held(everything=True)
                self._write(packet)
                continue
            if self._last_in is not None and packet.dts <= self._last_in:
                self._reordered += 1
                logger.debug("%s: encoder gave dts %d after dts %d", self.path, packet.dts, self._last_in)
            self._last_in = packet.dts if self._last_in is None else max(self._last_in, packet.dts)
            heapq.heappush(self._held, (packet.dts, next(self._arrival), packet))
            self._held_bytes += packet.size
            self._write_held()
        if flush:
            self._write_held(everything=True)
            if self._reordered:
                logger.info("%s: the encoder handed out %d packet(s) after a later one; muxed in decode order",
                            self.path, self._reordered)

    def _write_held(self, everything: bool = False) -> None:
        """Mux held packets while the first is in its turn (one tick, i.e. one frame, after the last muxed:
        our frames are one tick apart in the codec's time base), or while over the byte bound, or all."""
        while self._held:
            in_turn = self._last_dts is None or self._held[0][0] == self._last_dts + 1
            if not (everything or in_turn or self._held_bytes > _REORDER_BYTES):
                return
            _, _, packet = heapq.heappop(self._held)
            self._held_bytes -= packet.size
            self._write(packet)

    def _write(self, packet: av.Packet[Any]) -> None:
        pts, dts = packet.pts, packet.dts  # in frames; muxing rescales the packet to the stream's time base
        try:
            self._container.mux(packet)
        except av.FFmpegError as err:
            raise VideoEncodingError(
                f"the mp4 muxer refused the packet of frame pts={pts} dts={dts} (the last muxed had dts="
                f"{self._last_dts}; {self._frames} frames queued): {err}") from err
        self._last_dts = dts

    def _release_codec(self) -> None:
        """Ends the stream even on abort: SVT-AV1 prints an error when torn down without end-of-stream.

        Not after the codec itself failed: SVT-AV1 that has emitted a bad packet can block forever in the
        flush (seen under heavy load), which would hang the whole conversion instead of failing the episode.
        """
        try:
            if not self._ended and self._error is None:
                self._stream.encode(None)
        except Exception:  # the encoder already failed; its first error is the one worth reporting
            logger.debug("ignoring flush error while aborting %s", self.path, exc_info=True)
        try:
            self._container.close()
        except Exception as err:  # noqa: BLE001 - kept, re-raised by the caller with the file name
            self._error = self._error or err


def count_video_frames(path: Path) -> int:
    """Count frames by demuxing only, so checking a whole dataset against its parquet rows stays cheap."""
    try:
        with av.open(str(path)) as container:
            return sum(1 for packet in container.demux(video=0) if packet.size > 0)
    except (av.FFmpegError, IndexError) as err:
        raise DataprepError(f"{path}: cannot read video stream: {err}") from err


def read_video_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode every frame to RGB uint8, for tests and verification of what a training job will see."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, IndexError) as err:
        raise DataprepError(f"{path}: cannot decode video: {err}") from err


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for uint8 images; inf when identical."""
    if a.shape != b.shape:
        raise DataprepError(f"psnr needs images of the same shape, got {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0**2 / mse))
