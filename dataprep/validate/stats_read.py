"""A dataset's statistics, read into the typed `FeatureStats` the writer uses, or the reasons they cannot be.

stats.json and the episodes' `stats/*` columns come from any tool, so a feature's entry may be absent, not an
object, lack a stat, or hold something that is not a number. Reading keeps every array as found (shape and
NaN included): the checks then judge the typed record, and a defect found while reading is reported by them
with the others, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataprep.lerobot.layout import STAT_NAMES
from dataprep.lerobot.stats import FeatureStats

NO_STATS = ("no statistics for this feature (lerobot loads the dataset without them; "
            "a policy normalising it needs them)")  # fmt: skip


@dataclass(frozen=True)
class UnreadStats:
    """A feature's statistics that are not a complete numeric set: each problem becomes one finding."""

    problems: tuple[str, ...]
    warning: bool = False  # lerobot loads the dataset anyway (the feature has no statistics at all)


def read_feature_stats(raw: Any) -> FeatureStats | UnreadStats:
    """One feature's stat name -> nested lists, as a `FeatureStats` whose arrays keep the shapes found.

    Every array, `count` too, is float64 so a NaN or a wrong shape survives the reading and is named by the
    checks; a missing or null stat, or one that is not numeric, makes the entry `UnreadStats`.
    """
    if not isinstance(raw, Mapping):
        # lerobot loads and iterates it (its convert_image_to_video leaves a camera out of stats.json); only a
        # policy normalising this feature would miss them
        return UnreadStats((NO_STATS,), warning=True)
    problems = []
    missing = [name for name in STAT_NAMES if raw.get(name) is None]
    if missing:
        problems.append(f"lacks {missing}")
    arrays: dict[str, np.ndarray] = {}
    for name in STAT_NAMES:
        if name in missing:
            continue
        try:
            arrays[name] = np.asarray(raw[name], dtype=np.float64)
        except (TypeError, ValueError):
            problems.append(f"{name} is not numeric: {raw[name]!r:.80}")
    if problems:
        return UnreadStats(tuple(problems))
    return FeatureStats(**arrays)


def read_stats_table(raw: Mapping[str, Any]) -> dict[str, FeatureStats | UnreadStats]:
    """feature -> its statistics, for stats.json or one episode's `stats/{feature}/{stat}` values."""
    return {feature: read_feature_stats(value) for feature, value in raw.items()}
