"""Streaming video encoder: round trip quality, exact timestamps, no partial files, errors that name the file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from dataprep.errors import DataprepError
from dataprep.lerobot import video
from dataprep.lerobot.video import (
    VideoEncoder,
    VideoEncodingError,
    VideoInfo,
    VideoSettings,
    count_video_frames,
    psnr,
    read_video_frames,
)

FPS = 30
REPO_ROOT = Path(__file__).resolve().parents[1]


def synthetic_clip(width: int, height: int, frames: int) -> list[np.ndarray]:
    """Smooth gradients plus a moving block: content a codec compresses like a camera image, unlike noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    size = 2 * max(2, height // 10)  # even size and position: block edges fall on 4:2:0 chroma samples
    clip = []
    for k in range(frames):
        wave = 128 + 60 * np.sin((xx + 2 * yy + 3 * k) / (width / 4))
        image = np.stack([40 + 170 * xx / width, 40 + 170 * yy / height, wave], axis=-1).astype(np.uint8)
        x0, y0 = (2 * k) % (width - size), 2 * (height // 6)
        image[y0 : y0 + size, x0 : x0 + size] = (220, 220, 200)
        clip.append(image)
    return clip


def encode(path: Path, clip: list[np.ndarray], settings: VideoSettings, queue_frames: int = 8) -> VideoInfo:
    height, width = clip[0].shape[:2]
    with VideoEncoder(path, FPS, width, height, settings, queue_frames=queue_frames) as encoder:
        for frame in clip:
            encoder.write(frame)
    return encoder.close()


@pytest.mark.parametrize(("codec", "stream_codec"), [("libsvtav1", "av1"), ("h264", "h264")])
@pytest.mark.parametrize(("width", "height"), [(64, 48), (320, 240)])
def test_round_trip_keeps_every_frame_at_its_timestamp(
    tmp_path: Path, codec: str, stream_codec: str, width: int, height: int
) -> None:
    clip = synthetic_clip(width, height, 24)
    path = tmp_path / "episode.mp4"

    info = encode(path, clip, VideoSettings(codec=codec), queue_frames=2)  # type: ignore[arg-type]

    assert info.frames == len(clip) and info.codec_name == stream_codec
    assert (info.width, info.height, info.fps) == (width, height, FPS)
    assert count_video_frames(path) == len(clip)
    decoded = list(read_video_frames(path))
    assert len(decoded) == len(clip)
    assert min(psnr(a, b) for a, b in zip(clip, decoded)) > 30.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.codec.canonical_name == stream_codec
        times = [frame.time for frame in container.decode(stream)]
    assert times == pytest.approx([k / FPS for k in range(len(clip))], abs=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.mp4"]


def test_info_dict_carries_resolved_codec_defaults(tmp_path: Path) -> None:
    info = encode(tmp_path / "a.mp4", synthetic_clip(64, 48, 3), VideoSettings())

    block = info.to_info_dict()

    assert block["video.codec"] == "av1" and block["video.crf"] == 30 and block["video.preset"] == 12
    assert block["video.g"] == 2 and block["video.pix_fmt"] == "yuv420p"
    assert (block["video.height"], block["video.width"], block["video.channels"]) == (48, 64, 3)
    assert block["has_audio"] is False and block["is_depth_map"] is False and "video.is_depth_map" not in block
    h264 = VideoSettings(codec="h264", crf=20)
    assert (h264.resolved_crf(), h264.resolved_preset()) == (20, None)


def test_h264_defaults_are_lerobots_crf_30_and_x264s_own_preset(tmp_path: Path) -> None:
    """lerobot 0.6.1's VideoEncoderConfig passes g and crf 30 to libx264 and no preset (x264's medium)."""
    settings = VideoSettings(codec="h264")
    assert settings.codec_options() == {"g": "2", "crf": "30"}
    block = encode(tmp_path / "a.mp4", synthetic_clip(64, 48, 4), settings).to_info_dict()
    assert (block["video.codec"], block["video.crf"], block["video.preset"]) == ("h264", 30, None)
    with av.open(str(tmp_path / "a.mp4")) as container:  # x264 writes the options it ran with into the stream
        first = next(p for p in container.demux(video=0) if p.size)
    options = bytes(first)
    assert b"crf=30.0" in options and b"keyint=2" in options and b"subme=7" in options  # subme 7: medium


def test_nothing_appears_at_path_before_close(tmp_path: Path) -> None:
    path = tmp_path / "episode.mp4"
    encoder = VideoEncoder(path, FPS, 64, 48, VideoSettings())
    for frame in synthetic_clip(64, 48, 5):
        encoder.write(frame)

    assert not path.exists()
    encoder.close()
    assert path.exists() and count_video_frames(path) == 5


def test_abort_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "episode.mp4"
    encoder = VideoEncoder(path, FPS, 64, 48, VideoSettings(codec="h264"), queue_frames=1)
    for frame in synthetic_clip(64, 48, 6):
        encoder.write(frame)

    encoder.abort()

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataprepError, match="aborted"):
        encoder.write(synthetic_clip(64, 48, 1)[0])


def test_exception_in_with_block_aborts(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="reader failed"):
        with VideoEncoder(tmp_path / "episode.mp4", FPS, 64, 48, VideoSettings()) as encoder:
            encoder.write(synthetic_clip(64, 48, 1)[0])
            raise RuntimeError("reader failed")

    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape_names_file_and_shapes(tmp_path: Path) -> None:
    path = tmp_path / "cam.mp4"
    with pytest.raises(DataprepError, match=r"cam\.mp4.*\(48, 64, 3\).*\(48, 63, 3\)"):
        with VideoEncoder(path, FPS, 64, 48, VideoSettings()) as encoder:
            encoder.write(np.zeros((48, 63, 3), np.uint8))

    assert list(tmp_path.iterdir()) == []


def test_wrong_dtype_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="float32"):
        with VideoEncoder(tmp_path / "cam.mp4", FPS, 64, 48, VideoSettings()) as encoder:
            encoder.write(np.zeros((48, 64, 3), np.float32))


@pytest.mark.parametrize(("width", "height"), [(63, 48), (64, 47)])
def test_odd_size_rejected_for_yuv420p(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(DataprepError, match=rf"cam\.mp4.*{width}x{height}"):
        VideoEncoder(tmp_path / "cam.mp4", FPS, width, height, VideoSettings())

    assert list(tmp_path.iterdir()) == []


def test_missing_folder_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="does not exist"):
        VideoEncoder(tmp_path / "nope" / "cam.mp4", FPS, 64, 48, VideoSettings())


def test_psnr_is_infinite_for_identical_images() -> None:
    image = synthetic_clip(16, 16, 1)[0]
    assert psnr(image, image) == float("inf")
    assert psnr(image, 255 - image) < 10.0


def _encode_in_subprocess(tmp_path: Path, svt_log: str | None) -> str:
    script = textwrap.dedent(
        f"""
        import numpy as np
        from pathlib import Path
        from dataprep.lerobot.video import VideoEncoder, VideoSettings
        with VideoEncoder(Path({str(tmp_path / "q.mp4")!r}), 30, 64, 48, VideoSettings()) as encoder:
            for k in range(3):
                encoder.write(np.full((48, 64, 3), 40 * k, np.uint8))
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "SVT_LOG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if svt_log is not None:
        env["SVT_LOG"] = svt_log
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_encoder_is_silent_on_stderr(tmp_path: Path) -> None:
    assert "Svt[info]" in _encode_in_subprocess(tmp_path, svt_log="3")  # the check can see chatter

    stderr = _encode_in_subprocess(tmp_path, svt_log=None)

    assert "Svt[info]" not in stderr
    assert "Svt[" not in stderr  # nor warnings, nor the "deinit without EOS" error


def test_bad_encoder_setting_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match=r"cam\.mp4.*cannot open libsvtav1"):
        VideoEncoder(tmp_path / "cam.mp4", FPS, 64, 48, VideoSettings(preset=99))

    assert list(tmp_path.iterdir()) == []


def test_closing_without_frames_is_an_error(tmp_path: Path) -> None:
    encoder = VideoEncoder(tmp_path / "cam.mp4", FPS, 64, 48, VideoSettings())

    with pytest.raises(DataprepError, match=r"cam\.mp4.*no frames"):
        encoder.close()

    assert list(tmp_path.iterdir()) == []


def test_unknown_codec_rejected() -> None:
    with pytest.raises(DataprepError, match="unsupported video codec 'vp9'"):
        VideoSettings(codec="vp9")  # type: ignore[arg-type]


class _ScriptedStream:
    """Wraps the real stream; `encode` call number `at` (frames count from 1, the flush too) misbehaves.

    `error`: raised there, as a codec failing mid-stream would. Otherwise the call blocks until `gate` is
    set, as a codec stuck in a C call would; `then_raise` makes it fail once released.
    """

    def __init__(self, stream: Any, at: int, error: BaseException | None = None, then_raise: bool = False) -> None:
        self._stream, self._at, self._error, self._then_raise = stream, at, error, then_raise
        self.calls: list[bool] = []  # one per call: was it the flush (encode(None))?
        self.gate, self.blocked = threading.Event(), threading.Event()

    @property
    def codec_context(self) -> Any:
        return self._stream.codec_context

    def encode(self, frame: Any) -> Any:
        self.calls.append(frame is None)
        if len(self.calls) == self._at:
            if self._error is not None:
                raise self._error
            self.blocked.set()
            self.gate.wait()
            if self._then_raise:
                raise RuntimeError("codec died while the producer waited")
        return self._stream.encode(frame)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every encoder opened in the test gets the _ScriptedStream that the recipe appended to `scripted` builds."""
    recipes: list[Any] = []
    made: list[_ScriptedStream] = []
    real_open = VideoEncoder._open

    def scripted_open(self: VideoEncoder, encoder: str, settings: VideoSettings) -> Any:
        container = real_open(self, encoder, settings)
        made.append(recipes[0](self._stream))
        self._stream = made[-1]  # type: ignore[assignment]
        return container

    monkeypatch.setattr(VideoEncoder, "_open", scripted_open)
    monkeypatch.setattr(video, "_STALL_TIMEOUT_S", 0.5)
    yield recipes
    for stream in made:
        stream.gate.set()  # let a thread left behind finish instead of lingering past the test


def test_codec_error_mid_stream_stops_the_producer_promptly_and_skips_the_flush(
    tmp_path: Path, scripted: list[Any]
) -> None:
    scripted.append(lambda s: _ScriptedStream(s, at=3, error=av.FFmpegError(22, "non monotonically increasing dts")))
    path = tmp_path / "cam.mp4"
    written = 0

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*non monotonically increasing dts") as caught:
        with VideoEncoder(path, FPS, 64, 48, VideoSettings(), queue_frames=1) as encoder:
            for frame in synthetic_clip(64, 48, 40):
                encoder.write(frame)
                written += 1

    assert written < 10  # raised by write, a queue's length after the failure, not at close
    assert isinstance(caught.value.__cause__, av.FFmpegError)
    stream: _ScriptedStream = encoder._stream  # type: ignore[assignment]
    assert not any(stream.calls)  # a codec that raised is never flushed
    assert list(tmp_path.iterdir()) == []


def test_producer_blocked_on_a_full_queue_wakes_when_the_encoder_thread_dies(
    tmp_path: Path, scripted: list[Any]
) -> None:
    scripted.append(lambda s: _ScriptedStream(s, at=1, then_raise=True))
    path = tmp_path / "cam.mp4"
    encoder = VideoEncoder(path, FPS, 64, 48, VideoSettings(), queue_frames=1)
    stream: _ScriptedStream = encoder._stream  # type: ignore[assignment]
    frames = synthetic_clip(64, 48, 3)
    encoder.write(frames[0])
    assert stream.blocked.wait(5)  # the thread holds frame 0 inside the codec
    encoder.write(frames[1])  # fills the queue: the next write must wait
    threading.Timer(0.3, stream.gate.set).start()

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*codec died while the producer waited"):
        encoder.write(frames[2])

    encoder.abort()
    assert list(tmp_path.iterdir()) == []


def test_producer_gives_up_on_an_encoder_thread_that_stopped_without_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(VideoEncoder, "_run", lambda _self: None)  # the thread ends at once, takes nothing
    path = tmp_path / "cam.mp4"
    encoder = VideoEncoder(path, FPS, 64, 48, VideoSettings(), queue_frames=1)

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*encoder thread stopped unexpectedly"):
        for frame in synthetic_clip(64, 48, 3):
            encoder.write(frame)

    encoder.abort()
    encoder._container.close()  # _run never ran, so nobody else closes it
    assert list(tmp_path.iterdir()) == []


def test_close_gives_up_on_a_flush_that_never_returns(
    tmp_path: Path, scripted: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    scripted.append(lambda s: _ScriptedStream(s, at=4))  # 3 frames, then the flush hangs
    path = tmp_path / "cam.mp4"
    encoder = VideoEncoder(path, FPS, 64, 48, VideoSettings())
    for frame in synthetic_clip(64, 48, 3):
        encoder.write(frame)
    started = time.monotonic()

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*did not finish within 0\.5 s"):
        encoder.close()

    assert time.monotonic() - started < 3  # one wait of 0.5 s: its abort does not wait a second time
    assert encoder._thread.is_alive()  # left behind, still stuck in the flush
    assert list(tmp_path.iterdir()) == []
    assert "cam.mp4" in caplog.text  # abort logged that it, too, gave up waiting


def test_producer_gives_up_on_a_codec_stuck_mid_stream(tmp_path: Path, scripted: list[Any]) -> None:
    scripted.append(lambda s: _ScriptedStream(s, at=2))  # blocks forever on the second frame, using no CPU
    path = tmp_path / "cam.mp4"
    started = time.monotonic()

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*took no frame for 0\.5 s"):
        with VideoEncoder(path, FPS, 64, 48, VideoSettings(), queue_frames=2) as encoder:
            for frame in synthetic_clip(64, 48, 10):
                encoder.write(frame)

    assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []
    encoder.abort()  # a second abort returns at once instead of waiting on the stuck thread again
    assert time.monotonic() - started < 3


class _RepeatedDts:
    """The real stream, except that from its second packet on each gets the dts of the one before: what the
    mp4 muxer refuses (EINVAL), as it did SVT-AV1's packet in two hours-long runs."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.last: int | None = None
        self.gate = threading.Event()  # the `scripted` fixture opens every stream's gate at teardown

    def encode(self, frame: Any) -> Any:
        packets = self._stream.encode(frame)
        for packet in packets:
            if self.last is not None:
                packet.dts = self.last
            self.last = packet.dts
        return packets


class _OutOfOrder:
    """The real stream's packets, handed out at the end in the order SVT-AV1 gave them in two-hour runs on a busy
    machine: one packet 25 frames before its turn, another long after it (here: last)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.held: list[Any] = []
        self.gate = threading.Event()

    def encode(self, frame: Any) -> Any:
        self.held += self._stream.encode(frame)
        if frame is not None:
            return []
        order = [k for k in range(len(self.held)) if k not in (30, 10)]
        order = order[:5] + [30] + order[5:] + [10]
        return [self.held[k] for k in order]


@pytest.mark.parametrize("codec", ["libsvtav1", "h264"])
def test_packets_the_encoder_hands_out_of_order_are_muxed_in_decode_order(
    tmp_path: Path, scripted: list[Any], codec: str, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.append(_OutOfOrder)
    clip = synthetic_clip(64, 48, 60)
    path = tmp_path / "cam.mp4"

    with caplog.at_level("INFO", logger="dataprep.lerobot.video"):
        info = encode(path, clip, VideoSettings(codec=codec))  # type: ignore[arg-type]

    assert info.frames == 60 and count_video_frames(path) == 60
    decoded = list(read_video_frames(path))
    assert [max(range(60), key=lambda k: psnr(clip[k], image)) for image in decoded] == list(range(60))
    with av.open(str(path)) as container:
        times = [frame.time for frame in container.decode(container.streams.video[0])]
    assert times == pytest.approx([k / FPS for k in range(60)], abs=1e-4)
    assert "handed out 25 packet(s) after a later one" in caplog.text  # 5..29 after 30 (10 missing), and 10


def test_a_packet_the_muxer_refuses_is_named_with_its_timestamps(tmp_path: Path, scripted: list[Any]) -> None:
    scripted.append(_RepeatedDts)
    path = tmp_path / "cam.mp4"

    with pytest.raises(VideoEncodingError, match=r"cam\.mp4.*refused the packet of frame pts=\d+ dts=(-?\d+) "
                                                 r"\(the last muxed had dts=\1;") as caught:
        encode(path, synthetic_clip(64, 48, 40), VideoSettings(codec="h264"), queue_frames=1)

    assert isinstance(caught.value.__cause__, VideoEncodingError)
    assert isinstance(caught.value.__cause__.__cause__, av.FFmpegError)
    assert list(tmp_path.iterdir()) == []  # nothing at `path`, no temp file left
