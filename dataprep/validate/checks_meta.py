"""Checks of the metadata against itself: episode continuity, statistics, tasks, info.json's totals."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dataprep.lerobot.info import FeatureInfo
from dataprep.lerobot.layout import INFO_PATH, STAT_NAMES, STATS_PATH, TASKS_PATH
from dataprep.lerobot.stats import FeatureStats
from dataprep.validate.meta import DatasetMeta
from dataprep.validate.report import Finding
from dataprep.validate.stats_read import NO_STATS, UnreadStats


def check_episodes(meta: DatasetMeta) -> Iterator[Finding]:
    """Episodes numbered 0..N-1, each covering [from, to) of the global index right after the previous one."""
    expected_start = 0
    for position, ep in enumerate(meta.episodes):
        if ep.index != position:
            yield Finding(
                "meta.episodes",
                ep.meta_file,
                f"episode_index {ep.index} where {position} was expected",
                ep.index,
            )
        if ep.length < 1 or ep.end - ep.start != ep.length:
            yield Finding(
                "meta.episodes",
                ep.meta_file,
                f"length {ep.length} but dataset_from_index..to_index is {ep.start}..{ep.end}",
                ep.index,
            )
        if ep.start != expected_start:
            yield Finding(
                "meta.episodes",
                ep.meta_file,
                f"dataset_from_index {ep.start}, expected {expected_start} (right after the previous one)",
                ep.index,
            )
        expected_start = ep.end
        for key in meta.video_keys:
            if key not in ep.videos:
                yield Finding(
                    "meta.episodes", ep.meta_file, "no videos/... columns for this camera", ep.index, key
                )


def _stat_findings(
    stats: FeatureStats | UnreadStats | None, feature: str, shape: tuple[int, ...], file: str, episode: int | None
) -> Iterator[Finding]:
    """Every stat name present, finite, of the feature's shape; count a positive (1,) integer."""
    if stats is None:
        stats = UnreadStats((NO_STATS,), warning=True)
    if isinstance(stats, UnreadStats):
        for problem in stats.problems:
            yield Finding("stats.shape", file, problem, episode, feature, warning=stats.warning)
        return
    for name in STAT_NAMES:
        value: np.ndarray = getattr(stats, name)
        want = (1,) if name == "count" else shape
        if value.shape != want:
            yield Finding(
                "stats.shape", file, f"{name} has shape {value.shape}, expected {want}", episode, feature
            )
        if not np.isfinite(value).all():
            yield Finding(
                "stats.finite",
                file,
                f"{name} holds NaN or infinity: {value.reshape(-1).tolist()[:6]}",
                episode,
                feature,
            )
        elif name == "count" and (value.size != 1 or value.reshape(-1)[0] < 1):
            yield Finding(
                "stats.shape",
                file,
                f"count must be a positive integer, is {value.tolist()}",
                episode,
                feature,
            )


def stat_shape(feature: FeatureInfo) -> tuple[int, ...]:
    """Cameras are per channel (C, 1, 1); everything else has the feature's own shape."""
    shape = feature.shape
    if feature.dtype in ("image", "video"):
        channels = shape[2] if len(shape) == 3 else 3
        return (channels, 1, 1)
    return shape


def check_stats(meta: DatasetMeta) -> Iterator[Finding]:
    """stats.json and every episode's stats: one entry per numeric feature, right shapes, finite values."""
    numeric = {key: ft for key, ft in meta.features.items() if ft.dtype not in ("string", "language")}
    if meta.stats is not None:
        for key, ft in numeric.items():
            yield from _stat_findings(meta.stats.get(key), key, stat_shape(ft), STATS_PATH, None)
    for ep in meta.episodes:
        if ep.stats is None:  # no stats/* columns at all: one warning already says so
            continue
        for key, ft in numeric.items():
            yield from _stat_findings(ep.stats.get(key), key, stat_shape(ft), ep.meta_file, ep.index)


def check_tasks(meta: DatasetMeta) -> Iterator[Finding]:
    """Every task an episode names is in tasks.parquet, and task indices are 0..T-1."""
    if meta.tasks is None:
        return
    if sorted(meta.tasks.values()) != list(range(len(meta.tasks))):
        yield Finding(
            "tasks.referenced", TASKS_PATH, f"task_index values {sorted(meta.tasks.values())} are not 0..T-1"
        )
    for ep in meta.episodes:
        if ep.tasks is None:  # no tasks column: one warning already says so
            continue
        if not ep.tasks:
            yield Finding("tasks.referenced", ep.meta_file, "the episode names no task", ep.index)
        for task in ep.tasks:
            if task not in meta.tasks:
                yield Finding(
                    "tasks.referenced", ep.meta_file, f"task {task!r} is not in {TASKS_PATH}", ep.index
                )


def check_totals(meta: DatasetMeta, frames_on_disk: int | None) -> Iterator[Finding]:
    """info.json's totals equal what is on disk (episodes rows, data rows, tasks rows) and its split."""
    info = meta.info
    actual = {
        "total_episodes": len(meta.episodes),
        "total_frames": frames_on_disk,
        "total_tasks": None if meta.tasks is None else len(meta.tasks),
    }
    for key, value in actual.items():
        if value is not None and getattr(info, key) != value:
            yield Finding("info.totals", INFO_PATH, f"{key} is {getattr(info, key)} but {value} on disk")
    lengths = sum(ep.length for ep in meta.episodes)
    if frames_on_disk is not None and lengths != frames_on_disk:
        yield Finding(
            "info.totals", INFO_PATH, f"episode lengths add up to {lengths}, data holds {frames_on_disk} rows"
        )
    split = info.splits.get("train")
    if split != f"0:{len(meta.episodes)}":
        yield Finding(
            "info.totals", INFO_PATH, f"splits.train is {split!r}, expected '0:{len(meta.episodes)}'"
        )
    if meta.video_keys and not info.video_path:
        yield Finding("info.totals", INFO_PATH, "video features but no video_path")
