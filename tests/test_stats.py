"""Online statistics agree with numpy on the whole data: exactly for moments, to ~a bin width for quantiles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from dataprep.errors import DataprepError
from dataprep.lerobot.stats import (
    QUANTILE_KEYS,
    QUANTILES,
    STAT_KEYS,
    FeatureStats,
    ImageStats,
    RunningStats,
    aggregate_stats,
)

BINS = 5000


def uneven_batches(data: np.ndarray, seed: int = 1) -> Iterator[np.ndarray]:
    """Batches of 1 to ~700 rows, as an episode arrives from a bag reader."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(data):
        size = int(rng.choice([1, 2, 7, 50, 333, 700]))
        yield data[start : start + size]
        start += size


def stats_of(data: np.ndarray, seed: int = 1) -> FeatureStats:
    running = RunningStats(data.shape[1], bins=BINS)
    for batch in uneven_batches(data, seed):
        running.update(batch)
    return running.result()


def assert_matches_numpy(stats: FeatureStats, data: np.ndarray, bin_widths: float = 2.0) -> None:
    np.testing.assert_allclose(stats.min, data.min(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.max, data.max(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.std, data.std(axis=0), rtol=1e-9)
    assert stats.count.shape == (1,) and stats.count.dtype == np.int64 and stats.count[0] == len(data)
    tolerance = bin_widths * (data.max(axis=0) - data.min(axis=0)) / BINS
    for key, q in zip(QUANTILE_KEYS, QUANTILES):
        error = np.abs(getattr(stats, key) - np.quantile(data, q, axis=0))
        assert np.all(error <= tolerance), (key, error / np.maximum(tolerance, 1e-300) * bin_widths)


def test_random_data_in_uneven_batches_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    data = np.hstack(
        [
            rng.normal(0.0, 1.0, (30_000, 1)),
            rng.normal(1e4, 1e3, (30_000, 1)),  # large offset: a naive sum of squares loses the variance
            rng.exponential(0.01, (30_000, 1)) - 3.0,  # skewed
            rng.uniform(-1.0, 1.0, (30_000, 1)),
        ]
    )

    stats = stats_of(data)

    assert stats.mean.shape == (4,) and stats.q50.shape == (4,)
    assert_matches_numpy(stats, data)


def test_sparse_data_interpolates_like_numpy() -> None:
    data = np.random.default_rng(2).uniform(-5.0, 5.0, (300, 3))  # far fewer values than bins

    assert_matches_numpy(stats_of(data), data)


def test_range_growing_over_time_keeps_quantiles_accurate() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(40_000, dtype=np.float64)[:, None]
    data = np.hstack(
        [
            0.01 * t + rng.normal(0.0, 1.0, t.shape),  # drifts up
            -0.5 * t + rng.normal(0.0, 1.0, t.shape),  # drifts down
            np.sin(t / 100.0) * t,  # widens both ways
            np.exp(t / 4000.0),  # range grows by orders of magnitude
        ]
    )

    assert_matches_numpy(stats_of(data), data)


def test_first_value_alone_then_a_wide_range() -> None:
    data = np.concatenate([[[0.5]], np.random.default_rng(4).normal(0.0, 100.0, (5000, 1))])

    assert_matches_numpy(stats_of(data), data)


def test_constant_feature_is_exact() -> None:
    data = np.full((10_001, 2), [3.7, -0.1])

    stats = stats_of(data)

    for key in ("min", "max", "mean", *QUANTILE_KEYS):
        assert getattr(stats, key).tolist() == [3.7, -0.1], key
    assert stats.std.tolist() == [0.0, 0.0]


def test_binary_feature_quantiles_stay_within_a_bin_of_numpy() -> None:
    rng = np.random.default_rng(5)
    data = (rng.uniform(size=(20_000, 3)) < [0.3, 0.995, 0.05]).astype(np.float64)

    stats = stats_of(data)

    assert_matches_numpy(stats, data, bin_widths=1.0)
    for key in QUANTILE_KEYS:
        assert np.all((getattr(stats, key) >= 0.0) & (getattr(stats, key) <= 1.0))


def test_integer_valued_data_matches_numpy() -> None:
    data = np.random.default_rng(6).integers(-3, 12, (8000, 2)).astype(np.int64)

    running = RunningStats(2)
    for batch in uneven_batches(data):
        running.update(batch)

    assert_matches_numpy(running.result(), data.astype(np.float64))


def test_scalar_feature_accepts_1d_batches() -> None:
    running = RunningStats(1)
    running.update(np.array([1.0, 2.0, 3.0]))

    assert running.result().mean.tolist() == [2.0]


def test_wrong_shape_and_non_finite_values_are_rejected() -> None:
    running = RunningStats(3, name="observation.state")

    with pytest.raises(DataprepError, match=r"observation\.state.*\(N, 3\).*\(4, 2\)"):
        running.update(np.zeros((4, 2)))
    with pytest.raises(DataprepError, match=r"observation\.state.*NaN"):
        running.update(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(DataprepError, match="no values"):
        running.result()


def test_memory_does_not_grow_with_the_stream() -> None:
    running = RunningStats(4)
    rng = np.random.default_rng(7)
    running.update(rng.normal(size=(10, 4)))
    footprint = running._hist.counts.nbytes

    for scale in (1.0, 10.0, 1e3, 1e6):
        running.update(rng.normal(0.0, scale, (5000, 4)))

    assert running._hist.counts.nbytes == footprint == 4 * BINS * 8


def test_aggregate_of_parts_matches_numpy_on_the_concatenation() -> None:
    rng = np.random.default_rng(8)
    parts = [rng.normal(mu, sigma, (n, 3)) for mu, sigma, n in [(0.0, 1.0, 500), (5.0, 0.1, 2000), (-2.0, 3.0, 77)]]
    whole = np.concatenate(parts)

    part_stats = [stats_of(part) for part in parts]
    merged = aggregate_stats(part_stats)

    np.testing.assert_allclose(merged.min, whole.min(axis=0), rtol=1e-9)
    np.testing.assert_allclose(merged.max, whole.max(axis=0), rtol=1e-9)
    np.testing.assert_allclose(merged.mean, whole.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(merged.std, whole.std(axis=0), rtol=1e-9)
    assert merged.count.tolist() == [len(whole)]
    weights = np.array([len(p) for p in parts]) / len(whole)
    for key in QUANTILE_KEYS:  # lerobot's count-weighted average, not the quantile of the union
        expected = sum(w * getattr(stats, key) for w, stats in zip(weights, part_stats))
        np.testing.assert_allclose(getattr(merged, key), expected, rtol=1e-12)


def test_aggregate_rejects_empty_and_mismatched_parts() -> None:
    with pytest.raises(DataprepError, match="zero"):
        aggregate_stats([])
    with pytest.raises(DataprepError, match="shapes"):
        aggregate_stats([stats_of(np.ones((3, 2))), stats_of(np.ones((3, 3)))])


def synthetic_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        np.clip(np.stack([xx * 4, yy * 5, xx + yy], axis=-1) + rng.integers(-20, 20, (height, width, 3)), 0, 255)
        .astype(np.uint8)
        for _ in range(count)
    ]


def test_image_stats_match_numpy_on_the_sampled_pixels() -> None:
    frames = synthetic_frames(23)
    image_stats = ImageStats(every=5, pixel_stride=4)

    for index, frame in enumerate(frames):
        image_stats.update(index, frame)
    stats = image_stats.result()

    sampled = np.concatenate([f[::4, ::4].reshape(-1, 3) for f in frames[::5]]) / 255.0
    for key in ("min", "max", "mean", "std", *QUANTILE_KEYS):
        assert getattr(stats, key).shape == (3, 1, 1), key
    assert stats.count.tolist() == [5]  # frames 0, 5, 10, 15, 20: lerobot counts sampled frames
    per_pixel = replace(stats.reshaped((3,)), count=np.array([len(sampled)], dtype=np.int64))
    assert_matches_numpy(per_pixel, sampled)


def test_image_stats_reject_non_rgb_frames() -> None:
    with pytest.raises(DataprepError, match=r"head_cam.*uint8"):
        ImageStats(every=1, name="head_cam").update(0, np.zeros((4, 4), np.uint8))


def test_feature_stats_round_trip_through_json() -> None:
    stats = ImageStats(every=1)
    stats.update(0, synthetic_frames(1)[0])
    original = stats.result()

    text = json.dumps(original.to_dict())
    restored = FeatureStats.from_dict(json.loads(text))

    assert set(json.loads(text)) == set(STAT_KEYS)
    for key in STAT_KEYS:
        np.testing.assert_array_equal(getattr(restored, key), getattr(original, key))
        assert getattr(restored, key).shape == getattr(original, key).shape, key
    assert restored.count.dtype == np.int64


def test_from_dict_names_missing_keys() -> None:
    with pytest.raises(DataprepError, match="q99"):
        FeatureStats.from_dict({key: [0.0] for key in STAT_KEYS if key != "q99"})


def test_reshaped_leaves_count_alone() -> None:
    stats = stats_of(np.random.default_rng(10).uniform(size=(100, 3))).reshaped((3, 1, 1))

    assert stats.mean.shape == (3, 1, 1) and stats.q01.shape == (3, 1, 1) and stats.count.shape == (1,)
