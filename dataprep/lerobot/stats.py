"""Per-feature statistics for meta/stats.json and the episodes table, with lerobot 0.6.1's conventions.

An episode's statistics are computed exactly from its whole column once it is staged, one dimension at a
time (a two-hour episode is 72,000 rows): numpy's linear quantiles of the sorted values. lerobot itself reads
quantiles off a 5,000-bin histogram over min..max, where one outlier moves every quantile by a bin width of its range;
the meaning (the q-quantile of the episode's values) is the same, only the error is gone.
The dataset's statistics combine the episodes' as lerobot's `aggregate_stats` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dataprep.errors import DataprepError

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = ("q01", "q10", "q50", "q90", "q99")  # lerobot's names for QUANTILES, in the same order
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


@dataclass(frozen=True, eq=False)  # eq on arrays is ambiguous; compare fields with numpy instead
class FeatureStats:
    """The statistics lerobot stores for one feature; arrays share the feature's shape, count is (1,)."""

    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    q01: np.ndarray
    q10: np.ndarray
    q50: np.ndarray
    q90: np.ndarray
    q99: np.ndarray

    def to_dict(self) -> dict[str, list[Any]]:
        return {key: getattr(self, key).tolist() for key in STAT_KEYS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureStats:
        missing = [key for key in STAT_KEYS if key not in d]
        if missing:
            raise DataprepError(f"feature statistics lack {missing}; expected keys {list(STAT_KEYS)}")
        values = {key: np.asarray(d[key], dtype=np.float64) for key in STAT_KEYS if key != "count"}
        return cls(count=np.asarray(d["count"], dtype=np.int64).reshape(1), **values)

    def reshaped(self, shape: Sequence[int]) -> FeatureStats:
        """Images are stored per channel as (3, 1, 1) so they broadcast against (3, H, W) tensors."""
        return FeatureStats(
            **{f.name: getattr(self, f.name) if f.name == "count" else getattr(self, f.name).reshape(shape)
               for f in fields(self)}
        )  # fmt: skip


def column_stats(values: np.ndarray, name: str = "values") -> FeatureStats:
    """Exact statistics of an (N, dim) column (1-D: N scalars); count is N, as lerobot counts rows.

    One dimension at a time: a float64 copy of the whole column and the sorted copy `np.quantile` makes
    would each be 8 bytes per value, 9 MB apiece for a two-hour episode's 16-value state, and they were
    the peak of a long conversion. Per dimension the temporaries are N values, and numpy sums each one
    pairwise (the whole column's axis-0 mean added row after row), so the means are as exact or better.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or len(values) == 0:
        raise DataprepError(f"{name}: statistics need values of shape (N >= 1, dim), got {values.shape}")
    per_dim = [_dimension_stats(values[:, j], name) for j in range(values.shape[1])]
    low, high, mean, std, *quantiles = (np.array(stat, dtype=np.float64) for stat in zip(*per_dim))
    return FeatureStats(
        min=low, max=high, mean=mean, std=std, count=np.array([len(values)], dtype=np.int64),
        **dict(zip(QUANTILE_KEYS, quantiles)),
    )  # fmt: skip


def _dimension_stats(column: np.ndarray, name: str) -> tuple[float, ...]:
    """min, max, mean, std and the QUANTILES of one dimension's N values."""
    data = np.asarray(column, dtype=np.float64)  # contiguous: quantile, mean and std run over one array
    if not np.isfinite(data).all():
        raise DataprepError(f"{name}: values contain NaN or infinity; statistics would be meaningless")
    low, high = float(data.min()), float(data.max())
    if low == high:  # a sum's rounding must not blur an exact constant (a gripper's open state)
        return low, high, low, 0.0, *(low for _ in QUANTILES)
    mean = min(max(float(data.mean()), low), high)
    return low, high, mean, float(data.std()), *(float(q) for q in np.quantile(data, QUANTILES))


def aggregate_stats(parts: Sequence[FeatureStats]) -> FeatureStats:
    """Combine episodes as lerobot's `aggregate_feature_stats`: count-weighted means, pooled variance.

    Quantiles are count-weighted averages of the parts' quantiles, as lerobot computes them; that is an
    approximation (the median of a union is not the mean of medians), kept so merged datasets agree.
    """
    if not parts:
        raise DataprepError("cannot aggregate statistics of zero episodes")
    shapes = {p.mean.shape for p in parts}
    if len(shapes) != 1:
        raise DataprepError(f"cannot aggregate statistics of different shapes {sorted(shapes)}")
    counts = np.array([int(p.count.reshape(-1)[0]) for p in parts], dtype=np.int64)
    total = int(counts.sum())
    if total <= 0:
        raise DataprepError(f"cannot aggregate statistics whose counts sum to {total}")

    def weighted(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(sum(c * a for c, a in zip(counts, arrays)), dtype=np.float64) / total

    mean = weighted([p.mean for p in parts])
    variance = weighted([p.std**2 + (p.mean - mean) ** 2 for p in parts])
    return FeatureStats(
        min=np.min([p.min for p in parts], axis=0), max=np.max([p.max for p in parts], axis=0),
        mean=mean, std=np.sqrt(variance), count=np.array([total], dtype=np.int64),
        **{key: weighted([getattr(p, key) for p in parts]) for key in QUANTILE_KEYS},
    )  # fmt: skip
