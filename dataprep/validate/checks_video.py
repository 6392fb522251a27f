"""Checks of the video files: present, an mp4 whose stream matches info.json, and every episode's span.

Many episodes may share a file (lerobot packs them, one after another): each is found by its span alone,
so spans in one file must not overlap.

A file is demuxed once (packets only, no decoding) to get every frame's timestamp; each episode's span is
then checked against them: inside the file, exactly `length` frames, frame k at from_timestamp + k/fps
within lerobot's tolerance (where its reader looks for it). The first and last frame of every span are
decoded; `decode_all` decodes every frame, which costs about what encoding did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import Any

import av
import numpy as np

from dataprep.validate.checks_data import TIMESTAMP_TOLERANCE_S
from dataprep.validate.meta import DatasetMeta, EpisodeEntry, VideoSpan
from dataprep.validate.report import Finding


@dataclass(frozen=True)
class _Stream:
    """What demuxing one file told us."""

    times: np.ndarray  # every frame's presentation time (s), sorted
    duration: float  # seconds the file covers
    facts: dict[str, Any]  # the info.json keys a reader relies on, as read from the stream


def check_videos(meta: DatasetMeta, found: list[Finding], decode_all: bool = False) -> int:
    """Check every video file the episodes name; returns how many files were checked."""
    checked = 0
    for key in meta.video_keys:
        by_file: dict[tuple[int, int], list[EpisodeEntry]] = defaultdict(list)
        for ep in meta.episodes:
            if key in ep.videos:
                by_file[(ep.videos[key].chunk, ep.videos[key].file)].append(ep)
        for (chunk, file), episodes in sorted(by_file.items()):
            relative = meta.video_file(key, chunk, file)
            checked += 1
            found += _check_file(meta, key, relative, episodes, decode_all)
    return checked


def _check_file(
    meta: DatasetMeta, key: str, relative: str, episodes: list[EpisodeEntry], decode_all: bool
) -> Iterator[Finding]:
    path = meta.root / relative
    first = episodes[0].index
    if not path.is_file():
        yield Finding(
            "video.files",
            relative,
            f"missing (episodes {[e.index for e in episodes]} point to it)",
            first,
            key,
        )
        return
    try:
        stream = _demux(path)
    except (av.FFmpegError, IndexError, OSError) as err:
        yield Finding("video.files", relative, f"not a readable mp4 with a video stream: {err}", first, key)
        return
    info = meta.features[key].info or {}
    for name, actual in stream.facts.items():
        if name in info and info[name] != actual:
            yield Finding(
                "video.info",
                relative,
                f"info.json says {name} {info[name]!r}, the file has {actual!r}",
                feature=key,
            )
    yield from _overlaps(key, relative, episodes)
    for ep in episodes:
        yield from _check_span(meta, key, relative, ep, ep.videos[key], stream, decode_all)


def _overlaps(key: str, relative: str, episodes: list[EpisodeEntry]) -> Iterator[Finding]:
    """Episodes sharing a file must not share frames: a span that starts inside the previous one holds the
    right number of frames at the right times, yet shows another episode's frames first."""
    ordered = sorted(episodes, key=lambda ep: ep.videos[key].start)
    for before, ep in pairwise(ordered):
        if ep.videos[key].start < before.videos[key].end - TIMESTAMP_TOLERANCE_S:
            yield Finding(
                "video.span",
                relative,
                f"span {ep.videos[key].start:.4f}..{ep.videos[key].end:.4f} s starts inside episode "
                f"{before.index}'s span {before.videos[key].start:.4f}..{before.videos[key].end:.4f} s",
                ep.index,
                key,
            )


def _demux(path: Any) -> _Stream:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        base = video.time_base or Fraction(1, 1)
        pts = [p.pts for p in container.demux(video) if p.size > 0 and p.pts is not None]
        times = np.sort(np.asarray(pts, dtype=np.float64) * float(base))
        fps = int(video.base_rate) if video.base_rate else 0
        duration = float(video.duration * base) if video.duration else 0.0
        if times.size and fps:
            duration = max(duration, float(times[-1]) + 1.0 / fps)
        facts = {
            "video.codec": video.codec_context.codec.canonical_name,
            "video.width": video.width,
            "video.height": video.height,
            "video.pix_fmt": video.codec_context.pix_fmt,
            "video.fps": fps,
        }
    return _Stream(times, duration, facts)


def _check_span(
    meta: DatasetMeta,
    key: str,
    relative: str,
    ep: EpisodeEntry,
    span: VideoSpan,
    stream: _Stream,
    decode_all: bool,
) -> Iterator[Finding]:
    tol = TIMESTAMP_TOLERANCE_S
    where = f"span {span.start:.4f}..{span.end:.4f} s"
    if not span.end > span.start >= 0:
        yield Finding("video.span", relative, f"{where} is empty or negative", ep.index, key)
        return
    if span.end > stream.duration + tol:
        yield Finding(
            "video.span",
            relative,
            f"{where} ends past the file, which holds {stream.duration:.4f} s",
            ep.index,
            key,
        )
    inside = stream.times[(stream.times >= span.start - tol) & (stream.times < span.end - tol)]
    if inside.size != ep.length:
        yield Finding(
            "video.frames",
            relative,
            f"{where} holds {inside.size} frames, the episode has {ep.length}",
            ep.index,
            key,
        )
        return
    expected = span.start + np.arange(ep.length) / meta.fps
    off = np.abs(inside - expected)
    if off.max(initial=0.0) > tol:
        k = int(np.argmax(off))
        yield Finding(
            "video.frames",
            relative,
            f"frame {k} is at {inside[k]:.6f} s, the reader looks for it at {expected[k]:.6f} s",
            ep.index,
            key,
        )
    runs = [inside] if decode_all else [inside[:1], inside[-1:]]
    decoded = _decodable(meta.root / relative, runs)
    wanted = sum(len(run) for run in runs)
    if decoded < wanted:
        yield Finding(
            "video.decode",
            relative,
            f"only {decoded} of the {wanted} frames checked in {where} decode",
            ep.index,
            key,
        )


def _decodable(path: Any, runs: list[np.ndarray]) -> int:
    """How many frames of the runs (each a sorted array of frame times) decode; one seek per run."""
    decoded = 0
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            if video.time_base is None:
                return 0  # no time base: no frame can be found by its timestamp
            base = float(video.time_base)
            for run in runs:
                wanted = {round(t / base) for t in run}
                last = max(wanted)
                container.seek(min(wanted), stream=video, backward=True, any_frame=False)
                for frame in container.decode(video):
                    if frame.pts in wanted:
                        wanted.discard(frame.pts)
                        decoded += 1
                    if not wanted or frame.pts is None or frame.pts > last:
                        break
    except (av.FFmpegError, ValueError, OSError):
        pass  # the frames that decoded before the failure are counted
    return decoded
