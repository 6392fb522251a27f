"""Stream-copy concatenation of episode videos: every episode's frames where its span says, no re-encoding."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import pytest
from frame_numbers import decode_at, draw_number, read_number

from dataprep.lerobot.video import VideoEncoder, VideoSettings
from dataprep.lerobot.video_concat import VideoConcatError, VideoSpan, concat_videos, probe_video

FPS = 30  # 1/30 s is not exact in binary: spans and lookups must still agree to lerobot's 1e-4 s
WIDTH, HEIGHT = 64, 48
LENGTHS = (7, 3, 11)  # different lengths, odd ones: an episode boundary falls inside a GOP of 2


def encode_episode(path: Path, episode: int, length: int, codec: str, width: int = WIDTH) -> Path:
    """Frame k of episode e shows the number 100 * e + k."""
    with VideoEncoder(path, FPS, width, HEIGHT, VideoSettings(codec=codec)) as encoder:  # type: ignore[arg-type]
        for k in range(length):
            encoder.write(draw_number(100 * episode + k, width, HEIGHT))
    return path


def packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size > 0]


def decoded_numbers(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_number(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def assert_episode_frames(dest: Path, span: VideoSpan, episode: int, length: int) -> None:
    """lerobot's reader: episode frame k is the frame nearest from_timestamp + k / fps."""
    ks = sorted({0, 1, length // 2, length - 2, length - 1} & set(range(length)))
    images = decode_at(dest, [span.from_timestamp + k / FPS for k in ks])
    assert [read_number(image) for image in images] == [100 * episode + k for k in ks]


@pytest.fixture(params=["libsvtav1", "h264"])
def episodes(request: pytest.FixtureRequest, tmp_path: Path) -> list[Path]:
    codec = request.param
    return [
        encode_episode(tmp_path / f"{codec}-episode-{e}.mp4", e, length, codec) for e, length in enumerate(LENGTHS)
    ]


def test_concatenated_episodes_decode_at_their_spans(episodes: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "videos" / "file-000.mp4"
    spans = concat_videos(episodes, dest)

    assert [span.frames for span in spans] == list(LENGTHS)
    assert decoded_numbers(dest) == [100 * e + k for e, length in enumerate(LENGTHS) for k in range(length)]
    start = 0.0
    for episode, (span, length) in enumerate(zip(spans, LENGTHS)):
        assert span.source == episodes[episode]
        assert span.from_timestamp == pytest.approx(start, abs=1e-9)  # lerobot: the file's duration before it
        assert span.to_timestamp - span.from_timestamp == pytest.approx(length / FPS, abs=1e-9)
        assert_episode_frames(dest, span, episode, length)
        start = span.to_timestamp
    info = probe_video(dest)
    assert (info.frames, info.size_bytes) == (sum(LENGTHS), dest.stat().st_size)
    assert info.duration_s == pytest.approx(spans[-1].to_timestamp, abs=1e-9)
    assert not [p for p in dest.parent.iterdir() if p != dest], "no temporary file is left beside dest"


def test_packets_are_copied_byte_for_byte(episodes: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "all.mp4"
    concat_videos(episodes, dest)
    assert packets(dest) == [packet for source in episodes for packet in packets(source)]


def test_appending_to_a_concatenated_file_keeps_its_episodes_in_place(episodes: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "file-000.mp4"
    first_spans = concat_videos(episodes[:2], dest)
    before = packets(dest)

    spans = concat_videos([dest, episodes[2]], dest)  # extend the shared file in place, atomically

    assert spans[0].from_timestamp == 0.0
    assert spans[0].to_timestamp == pytest.approx(first_spans[-1].to_timestamp, abs=1e-9)
    assert spans[0].frames == LENGTHS[0] + LENGTHS[1]
    assert packets(dest)[: len(before)] == before
    for episode, span in enumerate([*first_spans, spans[1]]):
        assert_episode_frames(dest, span, episode, LENGTHS[episode])


def encode_with_b_frames(path: Path, episode: int, length: int) -> Path:
    """h264 with reordered B-frames (pts != dts order, negative first dts), as other tools write it."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"g": "12", "bf": "3", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        for k in range(length):
            frame = av.VideoFrame.from_ndarray(draw_number(100 * episode + k, WIDTH, HEIGHT), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_b_frames_keep_their_order_across_episode_boundaries(tmp_path: Path) -> None:
    lengths = (13, 8, 17)
    sources = [encode_with_b_frames(tmp_path / f"bf-{e}.mp4", e, n) for e, n in enumerate(lengths)]
    with av.open(str(sources[0])) as container:
        order = [packet.pts or 0 for packet in container.demux(video=0) if packet.size > 0]
    assert order != sorted(order), "the source has reordered frames"
    dest = tmp_path / "file-000.mp4"

    spans = concat_videos(sources, dest)

    assert decoded_numbers(dest) == [100 * e + k for e, n in enumerate(lengths) for k in range(n)]
    for episode, (span, length) in enumerate(zip(spans, lengths)):
        assert_episode_frames(dest, span, episode, length)


def test_mismatched_source_is_named_and_leaves_no_dest(tmp_path: Path) -> None:
    good = encode_episode(tmp_path / "good.mp4", 0, 4, "h264")
    wider = encode_episode(tmp_path / "wider.mp4", 1, 4, "h264", width=WIDTH + 16)
    other_codec = encode_episode(tmp_path / "av1.mp4", 2, 4, "libsvtav1")
    dest = tmp_path / "out" / "file-000.mp4"

    with pytest.raises(VideoConcatError, match=r"wider\.mp4.*width 80 != 64"):
        concat_videos([good, wider], dest)
    with pytest.raises(VideoConcatError, match=r"av1\.mp4.*codec 'av1' != 'h264'"):
        concat_videos([good, other_codec], dest)
    assert not dest.exists()
    assert not dest.parent.exists() or not list(dest.parent.iterdir())


def test_failed_append_keeps_the_existing_file(tmp_path: Path) -> None:
    dest = encode_episode(tmp_path / "file-000.mp4", 0, 4, "h264")
    before = dest.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not an mp4")

    with pytest.raises(VideoConcatError, match=r"broken\.mp4"):
        concat_videos([dest, broken], dest)
    assert dest.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "file-000.mp4"]


def dts_of(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [packet.dts for packet in container.demux(video=0) if packet.size > 0 and packet.dts is not None]


@pytest.mark.parametrize("lengths", [(5, 1, 6), (1, 6), (4, 1, 1, 3)])
def test_a_one_frame_h264_episode_between_others_keeps_dts_increasing_and_every_frame_in_place(
        lengths: tuple[int, ...], tmp_path: Path) -> None:
    """x264 gives a 1-frame video dts 0 and a longer one a first dts one frame early: copied as they are, the
    next episode's first dts equalled the 1-frame episode's, the mux failed, and the file came out one frame
    short (lerobot places the next appended episode at the file's duration)."""
    sources = [encode_episode(tmp_path / f"h264-{e}.mp4", e, n, "h264") for e, n in enumerate(lengths)]
    firsts = [dts_of(source)[0] for source in sources]
    assert firsts[lengths.index(1)] == 0 and min(firsts) < 0, firsts  # the premise: the two delays differ
    dest = tmp_path / "file-000.mp4"

    spans = concat_videos(sources, dest)

    dts = dts_of(dest)
    assert all(b > a for a, b in pairwise(dts)), dts
    assert decoded_numbers(dest) == [100 * e + k for e, n in enumerate(lengths) for k in range(n)]
    for episode, (span, length) in enumerate(zip(spans, lengths)):
        assert span.to_timestamp - span.from_timestamp == pytest.approx(length / FPS, abs=1e-9)
        assert_episode_frames(dest, span, episode, length)
    assert probe_video(dest).duration_s == pytest.approx(sum(lengths) / FPS, abs=1e-9)

    more = encode_episode(tmp_path / "more.mp4", len(lengths), 4, "h264")  # an append extends the file in place
    extended = concat_videos([dest, more], dest)
    assert extended[1].from_timestamp == pytest.approx(sum(lengths) / FPS, abs=1e-9)
    assert_episode_frames(dest, extended[1], len(lengths), 4)
    for episode, (span, length) in enumerate(zip(spans, lengths)):
        assert_episode_frames(dest, span, episode, length)
