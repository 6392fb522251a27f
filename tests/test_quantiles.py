"""stats_quantiles: exact - meta/stats.json's q01..q99 are the whole dataset's, through appends and edits.

Datasets are converted from small synthetic Kuavo bags without cameras (12 to 21 frames an episode), so a
conversion takes a few seconds; every check compares stats.json with numpy's quantiles over all the rows
of the dataset's data files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.edit import delete_episodes, merge_datasets, read_source, split_dataset, trim_episode
from dataprep.edit.compact import compact_dataset
from dataprep.errors import DataprepError
from dataprep.lerobot import quantiles as sketches_module
from dataprep.lerobot.layout import DEFAULT_FEATURES
from dataprep.lerobot.quantiles import SKETCH_FOLDER, merged_quantiles, rank_error_bound, read_sketches, sketch_of
from dataprep.lerobot.stats import QUANTILE_KEYS, QUANTILES, aggregate_stats
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.validate import validate_dataset
from tests.edit_helpers import REPO, config_for


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bags")
    for i, name in enumerate("abcd"):
        write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=32, height=24))
    return sorted(folder.glob("*.bag"))


def vector_config(bags: list[Path], out: Path, quantiles: str = "exact") -> ConvertConfig:
    """The edit tests' Kuavo config without cameras: only vectors and the five defaults."""
    config = config_for(bags, out)
    return config.model_copy(update={"cameras": {}, "stats_quantiles": quantiles,
                                     "timeline": config.timeline.model_copy(update={"main_camera": None})})


def all_rows(root: Path, key: str) -> np.ndarray:
    files = sorted((root / "data").rglob("*.parquet"))
    return np.concatenate([np.asarray(pq.read_table(f, columns=[key])[key].to_pylist(), dtype=np.float64)
                           for f in files]).reshape(-1, read_source(root).info.features[key].shape[0])


def check_quantiles(root: Path, exact: bool) -> int:
    """stats.json's quantiles of every vector feature against numpy's over every frame; the rank bound used."""
    info = read_source(root).info
    stats = json.loads((root / "meta/stats.json").read_text())
    sketches = read_sketches(root)
    assert sorted(sketches) == list(range(info.total_episodes))
    vectors = [k for k, f in info.features.items() if f.dtype not in ("video", "image") and k not in DEFAULT_FEATURES]
    assert vectors == ["observation.state", "action"]
    bounds = []
    for key in vectors:
        values = all_rows(root, key)
        assert len(values) == info.total_frames
        bound = rank_error_bound([features[key] for features in sketches.values()])
        bounds.append(bound)
        for name, q in zip(QUANTILE_KEYS, QUANTILES):
            written = np.asarray(stats[key][name])
            if exact:
                np.testing.assert_allclose(written, np.quantile(values, q, axis=0), rtol=0, atol=1e-12)
                continue
            position = q * (len(values) - 1)  # the documented bound: ranks position -/+ bound
            low = np.quantile(values, max(position - bound, 0) / (len(values) - 1), axis=0)
            high = np.quantile(values, min(position + bound, len(values) - 1) / (len(values) - 1), axis=0)
            assert np.all(written >= low - 1e-12) and np.all(written <= high + 1e-12), (key, name)
    assert validate_dataset(root).ok
    return max(bounds)


def test_exact_quantiles_equal_numpys_over_all_frames_through_append_delete_trim_compact_and_merge(
    bags: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    root = out / REPO
    convert_dataset(vector_config(bags[:3], out))
    assert check_quantiles(root, exact=True) == 1  # episodes of <= K + 1 frames: the bound is exact
    lerobots = aggregate_stats([ep.stats["action"] for ep in read_source(root).episodes])  # type: ignore[index]
    assert not np.allclose(json.loads((root / "meta/stats.json").read_text())["action"]["q10"], lerobots.q10)
    convert_dataset(vector_config(bags, out))  # append bag d
    assert read_source(root).info.total_episodes == 4
    check_quantiles(root, exact=True)
    delete_episodes(root, [1])
    check_quantiles(root, exact=True)
    trim_episode(root, 0, "2:-3")
    check_quantiles(root, exact=True)
    compact_dataset(root)
    check_quantiles(root, exact=True)
    train, val = tmp_path / "train", tmp_path / "val"
    split_dataset(root, (train, val), val_episodes=[1])
    check_quantiles(train, exact=True)
    check_quantiles(val, exact=True)
    trim_episode(val, 0, "4:")
    merge_datasets([val, train], tmp_path / "merged")  # val first: every episode renumbered
    assert read_source(tmp_path / "merged").info.total_episodes == 3
    check_quantiles(tmp_path / "merged", exact=True)


def test_with_few_sketch_points_the_quantiles_stay_within_the_documented_rank_error(
    bags: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sketches_module, "SKETCH_POINTS", 4)  # 5 stored ranks of 12..21 frames: approximate
    out = tmp_path / "out"
    root = out / REPO
    convert_dataset(vector_config(bags[:3], out))
    assert check_quantiles(root, exact=False) > 1
    convert_dataset(vector_config(bags, out))
    check_quantiles(root, exact=False)
    delete_episodes(root, [0])
    check_quantiles(root, exact=False)
    trim_episode(root, 1, "1:-1")
    check_quantiles(root, exact=False)


def test_the_default_writes_lerobots_merge_and_exact_cannot_append_to_it_without_sketches(
    bags: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    root = out / REPO
    convert_dataset(vector_config(bags[:2], out, quantiles="lerobot"))
    assert not (root / SKETCH_FOLDER).exists()
    stats = json.loads((root / "meta/stats.json").read_text())
    weighted = aggregate_stats([ep.stats["action"] for ep in read_source(root).episodes])  # type: ignore[index]
    for name in QUANTILE_KEYS:
        assert stats["action"][name] == getattr(weighted, name).tolist()
    before = (root / "meta/stats.json").read_bytes()
    with pytest.raises(DataprepError, match=r"quantile sketches .* episode\(s\) 0, 1 have none"):
        convert_dataset(vector_config(bags[:3], out))
    assert (root / "meta/stats.json").read_bytes() == before  # the committed dataset is untouched


@pytest.mark.parametrize("kind", ["normal", "ties", "skewed"])
def test_merged_sketches_keep_the_rank_bound_on_hard_inputs(kind: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        parts = []
        for i in range(int(rng.integers(1, 8))):
            n = (int(rng.integers(1, 400)), 2)
            if kind == "normal":  # episodes far apart
                parts.append(rng.normal(i * 3.0, 1 + i, n))
            elif kind == "ties":  # five values repeated
                parts.append(rng.integers(0, 5, n).astype(float))
            else:
                parts.append(rng.exponential(1, n) * (i + 1))
        points = int(rng.integers(2, 20))
        sketches = [sketch_of(p, points=points) for p in parts]
        values = np.concatenate(parts)
        bound, last = rank_error_bound(sketches), len(values) - 1
        for name, q in zip(QUANTILE_KEYS, QUANTILES):
            got = merged_quantiles(sketches)[name]
            low = np.quantile(values, max(q * last - bound, 0) / max(last, 1), axis=0)
            high = np.quantile(values, min(q * last + bound, last) / max(last, 1), axis=0)
            assert np.all(got >= low - 1e-12) and np.all(got <= high + 1e-12)
        exact = merged_quantiles([sketch_of(p, points=10**6) for p in parts])
        for name, q in zip(QUANTILE_KEYS, QUANTILES):
            np.testing.assert_allclose(exact[name], np.quantile(values, q, axis=0), rtol=0, atol=1e-12)
