"""Validates a LeRobot v3.0 dataset folder, whoever wrote it: every check runs, every problem is a finding."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dataprep.validate.checks_data import check_data
from dataprep.validate.checks_meta import check_episodes, check_stats, check_tasks, check_totals
from dataprep.validate.checks_video import check_videos
from dataprep.validate.meta import load_meta
from dataprep.validate.report import Finding, ValidationReport

logger = logging.getLogger(__name__)

CHECKS = (
    "meta.info", "meta.tasks", "meta.episodes", "meta.stats", "data.files", "data.schema", "data.rows",
    "data.index", "data.frame_index", "data.timestamp", "video.files", "video.info", "video.span",
    "video.frames", "video.decode", "stats.shape", "stats.finite", "tasks.referenced", "info.totals",
)  # fmt: skip

T = TypeVar("T")


def validate_dataset(root: Path, decode_all: bool = False) -> ValidationReport:
    """Check `root` as lerobot 0.6.1 will read it; never raises on a bad dataset, reports it instead.

    `decode_all` decodes every video frame instead of the first and last of each episode's span.
    """
    root = Path(root)
    found: list[Finding] = []
    meta = load_meta(root, found)
    if meta is None:
        return ValidationReport(root, tuple(found), checks=CHECKS)
    for group, check in (
        ("meta.episodes", check_episodes),
        ("meta.stats", check_stats),
        ("tasks.referenced", check_tasks),
    ):
        found += _guarded(found, group, lambda check=check: list(check(meta)), [])  # type: ignore[misc]
    frames = _guarded(found, "data.files", lambda: check_data(meta, found), None)
    found += _guarded(found, "info.totals", lambda: list(check_totals(meta, frames)), [])
    videos = _guarded(found, "video.files", lambda: check_videos(meta, found, decode_all), 0)
    report = ValidationReport(root, tuple(found), len(meta.episodes), frames or 0, videos, CHECKS)
    logger.info("validated %s: %d finding(s)", root, len(found))
    return report


def _guarded(found: list[Finding], group: str, run: Callable[[], T], fallback: T) -> T:
    """A dataset malformed in a way no check foresaw (a null where a number belongs) must not end the run."""
    try:
        return run()
    except Exception as err:  # reported as a finding: the validator's job is to say what is wrong
        logger.debug("check group %s failed", group, exc_info=True)
        found.append(Finding(group, "", f"could not run on this dataset: {err!r}"))
        return fallback
