"""Per-feature statistics for meta/stats.json and the episodes table, computed online.

An episode is streamed batch by batch, so nothing here keeps the values: min/max/mean/std are merged exactly
(Chan et al.'s parallel update), and quantiles come from a fixed-size histogram per dimension whose range
widens by whole-bin merges, so memory stays `dim * bins` counters however long the episode is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from dataprep.errors import DataprepError

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = ("q01", "q10", "q50", "q90", "q99")  # lerobot's names for QUANTILES, in the same order
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
DEFAULT_BINS = 5000
# lerobot samples ~n**0.75 frames of an n-frame episode (100 at least): about every 5th for a few hundred.
DEFAULT_IMAGE_EVERY = 5


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


class RunningStats:
    """Statistics of an (N, dim) stream fed in batches of any size."""

    def __init__(self, dim: int, bins: int = DEFAULT_BINS, *, name: str = "values") -> None:
        if dim < 1 or bins < 2:
            raise DataprepError(f"{name}: statistics need dim >= 1 and bins >= 2, got dim={dim}, bins={bins}")
        self.dim, self.bins, self.name = dim, bins, name
        self._count = 0
        self._mean = np.zeros(dim)
        self._m2 = np.zeros(dim)  # sum of squared deviations from the mean
        self._min = np.full(dim, np.inf)
        self._max = np.full(dim, -np.inf)
        self._hist = _Histograms(dim, bins)

    def update(self, values: np.ndarray) -> None:
        """Add a batch of shape (N, dim); a 1-D array is read as N scalars when dim is 1."""
        batch = np.asarray(values, dtype=np.float64)
        if batch.ndim == 1 and self.dim == 1:
            batch = batch[:, None]
        if batch.ndim != 2 or batch.shape[1] != self.dim:
            raise DataprepError(f"{self.name}: expected values of shape (N, {self.dim}), got {batch.shape}")
        if len(batch) == 0:
            return
        if not np.isfinite(batch).all():
            raise DataprepError(f"{self.name}: values contain NaN or infinity; statistics would be meaningless")
        self._merge_moments(batch)
        self._hist.add(batch, self._min, self._max)

    def _merge_moments(self, batch: np.ndarray) -> None:
        """Chan's pairwise update: exact, and stable where a running sum of squares would cancel."""
        n_b = len(batch)
        mean_b = batch.mean(axis=0)
        m2_b = ((batch - mean_b) ** 2).sum(axis=0)
        n = self._count + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + delta**2 * (self._count * n_b / n)
        self._count = n
        self._min = np.minimum(self._min, batch.min(axis=0))
        self._max = np.maximum(self._max, batch.max(axis=0))

    def result(self) -> FeatureStats:
        if self._count == 0:
            raise DataprepError(f"{self.name}: no values were seen, so there are no statistics")
        quantiles = self._hist.quantiles(QUANTILES, self._count, self._min, self._max)
        constant = self._min == self._max  # rounding in the merges must not blur an exact constant
        mean = np.where(constant, self._min, np.clip(self._mean, self._min, self._max))
        std = np.where(constant, 0.0, np.sqrt(self._m2 / self._count))
        return FeatureStats(
            min=self._min.copy(), max=self._max.copy(), mean=mean, std=std,
            count=np.array([self._count], dtype=np.int64),
            **dict(zip(QUANTILE_KEYS, quantiles)),
        )  # fmt: skip


class _Histograms:
    """One fixed-size histogram per dimension over [lo, lo + bins * width), widened as values arrive.

    Widening merges whole old bins (the new width is an integer multiple of the old, on the old edges),
    so counts are never smeared and a range that grows for hours costs no accuracy. width 0 means every
    value seen so far equals lo (constant features stay exact).
    """

    def __init__(self, dim: int, bins: int) -> None:
        self.bins = bins
        self.counts = np.zeros((dim, bins), dtype=np.int64)
        self.lo = np.zeros(dim)
        self.width = np.zeros(dim)

    def add(self, batch: np.ndarray, seen_min: np.ndarray, seen_max: np.ndarray) -> None:
        """seen_min/seen_max already include `batch`: the range must cover everything seen so far."""
        top = self.lo + self.bins * self.width
        outside = (seen_min < self.lo) | (seen_max > top) | ((self.width == 0) & (seen_max > seen_min))
        for d in np.flatnonzero(outside):
            self._widen(int(d), seen_min[d], seen_max[d])
        safe_width = np.where(self.width > 0, self.width, 1.0)
        index = np.clip(((batch - self.lo) / safe_width).astype(np.int64), 0, self.bins - 1)
        index[:, self.width == 0] = 0
        flat = (index + np.arange(len(self.lo)) * self.bins).ravel()
        if flat.size * 16 < self.counts.size:  # small batch: skip a full-size temporary histogram
            np.add.at(self.counts.reshape(-1), flat, 1)
        else:
            self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    def _widen(self, d: int, vmin: float, vmax: float) -> None:
        lo, width, bins = self.lo[d], self.width[d], self.bins
        if width > 0:
            start = math.floor((vmin - lo) / width)  # new lo sits on an old edge at or below vmin
            span = math.ceil((vmax - lo) / width) - start  # old bins needed to cover [vmin, vmax]
            factor = max(1, math.ceil(span / bins))
            if factor <= bins:
                start -= (factor * bins - span) // 2  # spare room on both sides: drifting data rebins less
                # Old bins outside [vmin, vmax] are empty, so clipping them cannot move a count.
                merged = np.clip((np.arange(bins) - start) // factor, 0, bins - 1)
                self.counts[d] = np.bincount(merged, weights=self.counts[d], minlength=bins).astype(np.int64)
                self.lo[d], self.width[d] = lo + start * width, width * factor
                return
        self._restart(d, vmin, vmax)

    def _restart(self, d: int, vmin: float, vmax: float) -> None:
        """Fresh range for a constant (or extremely widened) dimension; old counts move by bin centre."""
        total = self.counts[d].sum()
        old_centres = self.lo[d] + (np.arange(self.bins) + 0.5) * self.width[d]
        old_counts = self.counts[d].copy()
        self.lo[d], self.width[d] = vmin, (vmax - vmin) / self.bins
        if self.width[d] == 0:
            self.counts[d] = 0
            self.counts[d, 0] = total
            return
        index = np.clip(((old_centres - vmin) / self.width[d]).astype(np.int64), 0, self.bins - 1)
        self.counts[d] = np.bincount(index, weights=old_counts, minlength=self.bins).astype(np.int64)

    def quantiles(
        self, qs: Sequence[float], count: int, seen_min: np.ndarray, seen_max: np.ndarray
    ) -> list[np.ndarray]:
        """numpy's default (linear) quantile, with each order statistic read off the histogram.

        The r-th smallest value is placed where the within-bin-uniform CDF reaches r + 0.5, and numpy's
        interpolation between neighbouring order statistics is then applied, so sparse data (fewer values
        than bins) still agrees with np.quantile to about one bin width.
        """
        out = [np.empty(len(self.lo)) for _ in qs]
        for d in range(len(self.lo)):
            cdf = np.cumsum(self.counts[d])
            for out_q, q in zip(out, qs):
                pos = q * (count - 1)
                low = math.floor(pos)
                a = self._order_statistic(d, cdf, low)
                b = self._order_statistic(d, cdf, min(low + 1, count - 1))
                out_q[d] = min(max(a + (pos - low) * (b - a), seen_min[d]), seen_max[d])
        return out

    def _order_statistic(self, d: int, cdf: np.ndarray, rank: int) -> float:
        if self.width[d] == 0:
            return float(self.lo[d])
        target = rank + 0.5
        i = int(np.searchsorted(cdf, target))
        before = cdf[i - 1] if i else 0
        fraction = (target - before) / (cdf[i] - before)
        return float(self.lo[d] + (i + fraction) * self.width[d])


class ImageStats:
    """Per-channel statistics of a camera on a subsample, scaled to [0, 1], as lerobot stores them.

    `depth=True`: one uint16 channel, kept in its metric unit (not scaled), for depth maps.
    """

    def __init__(
        self, every: int = DEFAULT_IMAGE_EVERY, pixel_stride: int = 8, *, name: str = "image", depth: bool = False
    ) -> None:
        if every < 1 or pixel_stride < 1:
            raise DataprepError(f"{name}: every and pixel_stride must be >= 1, got {every}, {pixel_stride}")
        self.every, self.pixel_stride, self.name = every, pixel_stride, name
        self.channels, self.dtype, self.scale = (1, np.uint16, 1.0) if depth else (3, np.uint8, 255.0)
        self._running = RunningStats(self.channels, name=name)
        self._frames = 0

    def update(self, frame_index: int, frame: np.ndarray) -> None:
        """Only every `every`-th frame, on a strided pixel grid: enough for normalisation, cheap per frame."""
        if frame_index % self.every:
            return
        if frame.ndim != 3 or frame.shape[2] != self.channels or frame.dtype != self.dtype:
            raise DataprepError(f"{self.name}: expected a {np.dtype(self.dtype)} HxWx{self.channels} frame, "
                                f"got {frame.dtype} {frame.shape}")
        pixels = frame[:: self.pixel_stride, :: self.pixel_stride].reshape(-1, self.channels)
        self._running.update(pixels / self.scale)
        self._frames += 1

    def result(self) -> FeatureStats:
        """count is the number of sampled frames, not pixels: lerobot weights episodes by it."""
        stats = self._running.result().reshaped((self.channels, 1, 1))
        return replace(stats, count=np.array([self._frames], dtype=np.int64))


def aggregate_stats(parts: Sequence[FeatureStats]) -> FeatureStats:
    """Combine episodes: exact for min/max/mean/std/count (pooled population variance).

    Quantiles are count-weighted averages of the parts' quantiles, as lerobot computes them; that is an
    approximation (the median of a union is not the mean of medians), accepted for compatibility.
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
    weights = counts.astype(np.float64) / total

    def weighted(key: str) -> np.ndarray:
        return np.asarray(sum(w * getattr(p, key) for w, p in zip(weights, parts)), dtype=np.float64)

    mean = weighted("mean")
    variance = sum(w * (p.std**2 + (p.mean - mean) ** 2) for w, p in zip(weights, parts))
    return FeatureStats(
        min=np.min([p.min for p in parts], axis=0), max=np.max([p.max for p in parts], axis=0),
        mean=mean, std=np.sqrt(variance), count=np.array([total], dtype=np.int64),
        **{key: weighted(key) for key in QUANTILE_KEYS},
    )  # fmt: skip
