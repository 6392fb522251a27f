"""Per-feature statistics for meta/stats.json and the episodes table, with lerobot 0.6.1's conventions.

Episodes are small (a few thousand rows), so an episode's statistics are computed exactly from its whole
column once it is staged: numpy's linear quantiles of the sorted values. lerobot itself reads quantiles off
a 5,000-bin histogram over min..max, where one outlier moves every quantile by a bin width of its range;
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
    """Exact statistics of an (N, dim) column (1-D: N scalars); count is N, as lerobot counts rows."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or len(data) == 0:
        raise DataprepError(f"{name}: statistics need values of shape (N >= 1, dim), got {data.shape}")
    if not np.isfinite(data).all():
        raise DataprepError(f"{name}: values contain NaN or infinity; statistics would be meaningless")
    quantiles = np.quantile(data, QUANTILES, axis=0)  # sorts each column once for all five
    low, high = data.min(axis=0), data.max(axis=0)
    constant = low == high  # a sum's rounding must not blur an exact constant (a gripper's open state)
    return FeatureStats(
        min=low, max=high, mean=np.where(constant, low, np.clip(data.mean(axis=0), low, high)),
        std=np.where(constant, 0.0, data.std(axis=0)),
        count=np.array([len(data)], dtype=np.int64), **dict(zip(QUANTILE_KEYS, quantiles)),
    )  # fmt: skip


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
