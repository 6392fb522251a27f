"""Statistics are exact (numpy on the whole column / every sampled pixel) and follow lerobot's conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataprep.errors import DataprepError
from dataprep.lerobot.image_stats import ImageStats, channel_histograms, downsample, sample_indices
from dataprep.lerobot.stats import (
    QUANTILE_KEYS,
    QUANTILES,
    STAT_KEYS,
    FeatureStats,
    aggregate_stats,
    column_stats,
)


def assert_matches_numpy(stats: FeatureStats, data: np.ndarray) -> None:
    for key, expected in (
        ("min", data.min(axis=0)),
        ("max", data.max(axis=0)),
        ("mean", data.mean(axis=0)),
        ("std", data.std(axis=0)),
    ):
        np.testing.assert_allclose(getattr(stats, key), expected, rtol=1e-10, atol=1e-15, err_msg=key)
    for key, q in zip(QUANTILE_KEYS, QUANTILES):
        np.testing.assert_allclose(getattr(stats, key), np.quantile(data, q, axis=0), rtol=1e-12, err_msg=key)


def test_column_quantiles_are_exact_and_one_outlier_moves_nothing_else() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 1.0, (4000, 2))
    data[1234, 0] = 1e4  # a 5,000-bin histogram over min..max would put q01 a whole bin (2 units) off

    stats = column_stats(data)

    assert_matches_numpy(stats, data)
    assert stats.count.tolist() == [4000] and stats.count.dtype == np.int64
    assert abs(stats.q01[0] - stats.q01[1]) < 0.2  # the outlier's column keeps an N(0,1) q01 (about -2.33)


def test_constant_and_single_row_columns_are_exact() -> None:
    constant = column_stats(np.full((101, 2), [3.7, -0.1]))
    single = column_stats(np.array([[1.5, 2.5]]))

    for key in ("min", "max", "mean", *QUANTILE_KEYS):
        assert getattr(constant, key).tolist() == [3.7, -0.1], key
        assert getattr(single, key).tolist() == [1.5, 2.5], key
    assert constant.std.tolist() == [0.0, 0.0] and single.count.tolist() == [1]


def test_scalar_column_accepts_1d_values() -> None:
    assert column_stats(np.array([1.0, 2.0, 3.0])).mean.tolist() == [2.0]


@pytest.mark.parametrize("shape", [(480, 640), (640, 480), (720, 1280), (480, 848), (479, 641), (1080, 1920),
                                   (200, 299), (300, 301)])
def test_camera_histograms_count_exactly_the_pixels_lerobots_stride_keeps(shape: tuple[int, int]) -> None:
    """OpenCV's nearest-neighbour resize picks the columns the stride keeps; widths the stride does not divide
    (848 / 5) add their last strided column by numpy; views OpenCV cannot take (reversed channels or
    rows) go to numpy whole. Each is compared with numpy counting lerobot's strided frame."""
    rng = np.random.default_rng(sum(shape))
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    for view in (frame, frame[..., ::-1], frame[::-1]):
        small = downsample(view)
        expected = np.stack([np.bincount(small[..., c].ravel(), minlength=256) for c in range(3)])
        np.testing.assert_array_equal(channel_histograms(view), expected)


def test_a_long_columns_statistics_hold_one_dimension_at_a_time() -> None:
    """A two-hour episode's 16-value state at 10 fps: float64 copies of the whole column (what the
    statistics used to make, twice: the values and quantile's sorted copy) were the peak of the conversion."""
    import tracemalloc

    data = np.random.default_rng(1).normal(0.0, 1.0, (72_000, 16)).astype(np.float32)
    whole_float64 = data.size * 8
    tracemalloc.start()
    try:
        stats = column_stats(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < whole_float64 / 2, f"{peak / 1e6:.1f} MB traced against {whole_float64 / 1e6:.1f} MB"
    assert_matches_numpy(stats, data.astype(np.float64))


def test_non_finite_and_empty_columns_are_rejected() -> None:
    with pytest.raises(DataprepError, match=r"observation\.state.*NaN"):
        column_stats(np.array([[0.0, np.nan, 1.0]]), "observation.state")
    with pytest.raises(DataprepError, match=r"action.*N >= 1"):
        column_stats(np.zeros((0, 3)), "action")


def test_aggregate_of_parts_matches_numpy_on_the_concatenation() -> None:
    rng = np.random.default_rng(8)
    parts = [
        rng.normal(mu, sigma, (n, 3)) for mu, sigma, n in [(0.0, 1.0, 500), (5.0, 0.1, 2000), (-2.0, 3.0, 77)]
    ]
    whole = np.concatenate(parts)

    part_stats = [column_stats(part) for part in parts]
    merged = aggregate_stats(part_stats)

    for key in ("min", "max", "mean", "std"):
        np.testing.assert_allclose(getattr(merged, key), getattr(column_stats(whole), key), rtol=1e-9)
    assert merged.count.tolist() == [len(whole)]
    weights = np.array([len(p) for p in parts]) / len(whole)
    for key in QUANTILE_KEYS:  # lerobot's count-weighted average, not the quantile of the union
        expected = sum(w * getattr(stats, key) for w, stats in zip(weights, part_stats))
        np.testing.assert_allclose(getattr(merged, key), expected, rtol=1e-12)


def test_aggregate_rejects_empty_and_mismatched_parts() -> None:
    with pytest.raises(DataprepError, match="zero"):
        aggregate_stats([])
    with pytest.raises(DataprepError, match="shapes"):
        aggregate_stats([column_stats(np.ones((3, 2))), column_stats(np.ones((3, 3)))])


def synthetic_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        np.clip(
            np.stack([xx * 4, yy * 5, xx + yy], axis=-1) + rng.integers(-20, 20, (height, width, 3)), 0, 255
        ).astype(np.uint8)
        for _ in range(count)
    ]


def test_sample_indices_and_downsampling_follow_lerobot() -> None:
    assert sample_indices(7).tolist() == list(range(7))  # short episodes: every frame
    assert len(sample_indices(100)) == 100 and len(sample_indices(1000)) == 177  # int(1000 ** 0.75)
    assert sample_indices(1000)[0] == 0 and sample_indices(1000)[-1] == 999
    assert downsample(np.zeros((480, 640, 3))).shape == (120, 160, 3)  # stride int(640 / 150) = 4
    assert downsample(np.zeros((240, 320, 3))).shape == (120, 160, 3)
    assert downsample(np.zeros((200, 299, 3))).shape == (200, 299, 3)  # under 300 px: untouched


def test_video_camera_stats_use_every_frame_and_count_pixels() -> None:
    frames = synthetic_frames(9, 240, 320)
    image_stats = ImageStats(every_frame=True)
    for frame in frames:
        image_stats.update(frame)

    stats = image_stats.result()

    pixels = np.concatenate([f[::2, ::2].reshape(-1, 3) for f in frames]) / 255.0
    assert stats.count.tolist() == [len(pixels)] == [9 * 120 * 160]
    for key in ("min", "max", "mean", "std", *QUANTILE_KEYS):
        assert getattr(stats, key).shape == (3, 1, 1), key
    assert_matches_numpy(stats.reshaped((3,)), pixels)


def test_image_camera_stats_sample_frames_and_count_them() -> None:
    frames = synthetic_frames(130)
    image_stats = ImageStats(every_frame=False)
    for frame in frames:
        image_stats.update(frame)

    stats = image_stats.result()

    picked = sample_indices(130)
    assert len(picked) == 100 and stats.count.tolist() == [100]  # lerobot counts the frames it sampled
    pixels = np.concatenate([frames[i].reshape(-1, 3) for i in picked]) / 255.0
    assert_matches_numpy(stats.reshaped((3,)), pixels)


def test_image_stats_reject_non_rgb_frames() -> None:
    with pytest.raises(DataprepError, match=r"head_cam.*uint8"):
        ImageStats(every_frame=True, name="head_cam").update(np.zeros((4, 4), np.uint8))


def test_feature_stats_round_trip_through_json() -> None:
    stats = ImageStats(every_frame=True)
    stats.update(synthetic_frames(1)[0])
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
