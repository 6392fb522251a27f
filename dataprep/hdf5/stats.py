"""Statistics that merge exactly across files: count, mean, M2 (sum of squared deviations), min, max.

`dataprep.lerobot.stats.RunningStats` keeps the same moments but also histograms for quantiles and merges a
batch into itself only; here two finished summaries of different files must merge (a rerun reuses the
stored summary of each unchanged file), so this small record carries Chan's pairwise merge on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCK_ROWS = 1 << 16  # moments of a column are computed block by block: float64 copies stay small


MOMENT_KEYS = ("count", "mean", "m2", "min", "max")  # Moments' fields, as stored per file and in the index


@dataclass(frozen=True, eq=False)
class Moments:
    """Moments of a column of shape (N, *shape); arrays have `shape`."""

    count: int
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        if len(values) == 0:
            raise ValueError("moments of an empty column")
        total: Moments | None = None
        for start in range(0, len(values), BLOCK_ROWS):
            block = np.asarray(values[start:start + BLOCK_ROWS], dtype=np.float64)
            mean = block.mean(axis=0)
            part = cls(len(block), mean, ((block - mean) ** 2).sum(axis=0), block.min(axis=0), block.max(axis=0))
            total = part if total is None else total.merge(part)
        assert total is not None
        return total

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s pairwise update: exact, and stable where sums of squares would cancel."""
        n = self.count + other.count
        delta = other.mean - self.mean
        return Moments(
            count=n,
            mean=self.mean + delta * (other.count / n),
            m2=self.m2 + other.m2 + delta**2 * (self.count * other.count / n),
            min=np.minimum(self.min, other.min),
            max=np.maximum(self.max, other.max),
        )

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (ddof 0), as numpy's default."""
        return np.sqrt(self.m2 / self.count)

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "min": self.min.tolist(), "max": self.max.tolist()}

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored form (npz, HDF5); `from_arrays` reads it back."""
        return {"count": np.asarray(self.count, dtype=np.int64), "mean": self.mean, "m2": self.m2,
                "min": self.min, "max": self.max}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> Moments:
        return cls(int(arrays["count"]), *(np.asarray(arrays[k], dtype=np.float64) for k in MOMENT_KEYS[1:]))


def merge_all(parts: list[Moments]) -> Moments | None:
    total: Moments | None = None
    for part in parts:
        total = part if total is None else total.merge(part)
    return total
