"""The migration facade returns the design notes' shapes from the same readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataprep.hdf5 import IndexTables, build_index
from dataprep.hdf5.compat import TUPLE_FIELDS, MultiH5Dataset, ReplayBuffer
from tests.hdf5_sources import index_config, read_column, write_sources


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    root = tmp_path_factory.mktemp("sources")
    files = write_sources(root)
    build_index(index_config(root, root / "index", cache=24))
    return files, root / "index"


def test_sample_returns_the_eleven_tuple_of_one_batch_and_action_statistics(index: tuple[dict[str, Path], Path]) -> None:
    files, out = index
    with ReplayBuffer(out, image_size=24, seed=3) as buffer:
        first = buffer.sample(16)
        left, right, glob, joint, action, n_left, n_right, n_glob, n_joint, reward, not_done = first
        same = ReplayBuffer(out, image_size=24, seed=3).sample(16)  # the same seed, the same batch
        assert len(TUPLE_FIELDS) == 11 and all(np.array_equal(a, b) for a, b in zip(first, same, strict=True))
        assert left.shape == n_glob.shape == (16, 24, 24, 3) and left.dtype == np.uint8
        assert joint.shape == n_joint.shape == (16, 16) and action.shape == (16, 7)
        assert reward.shape == not_done.shape == (16,) and set(np.unique(not_done)) <= {0.0, 1.0}
        actions = read_column([files["a"], files["b"]], "action")
        np.testing.assert_allclose(buffer.action_mean, actions.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(buffer.action_std, actions.std(axis=0), rtol=1e-4, atol=1e-6)
    assert len(right) == len(glob) == len(n_left) == len(n_right) == 16


def test_multi_h5_dataset_maps_preload_all_and_cache_size_onto_the_modes(index: tuple[dict[str, Path], Path]) -> None:
    _, out = index
    assert MultiH5Dataset(out, preload_all=True).mode == "preload_all"
    lru = MultiH5Dataset(out, cache_size=2)
    assert (lru.mode, lru.cache_files) == ("lru", 2)
    assert MultiH5Dataset(out, cache_size=0).mode == "on_demand"
    assert len(lru) == len(IndexTables.load(out).segments["start"])
