"""The map-style dataset over a prepared tree: modes agree, the RAM cache keeps to its budget, it pickles."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest
from gopro_mini import TEST, TRAIN, build, expected_voxel

from dataprep.gopro import GoproError, GoproSpikeDataset, prepare_tree
from dataprep.gopro.dataset import SampleCache
from dataprep.memory import resolve_workers
from dataprep.memory import resolve_workers as memory_resolve_workers
from dataprep.sample.gopro_tree import sample_image, sample_spikes

ENCODINGS = ["bytes", "bitpacked"]


@pytest.fixture(params=ENCODINGS)
def prepared(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    tree = build(tmp_path, request.param)
    prepare_tree(tree.config)
    return tree


def test_realtime_and_precomputed_give_identical_voxels_and_the_images(prepared) -> None:  # type: ignore[no-untyped-def]
    realtime = GoproSpikeDataset.from_config(prepared.config, "train")
    precomputed = GoproSpikeDataset.from_config(prepared.config, "train", mode="precomputed")
    assert len(realtime) == len(precomputed) == 2
    assert (
        realtime.frames()
        == precomputed.frames()
        == [("GOPR0372_07_00", "000047"), ("GOPR0372_07_00", "000048")]
    )
    for i in range(len(realtime)):
        a, b = realtime[i], precomputed[i]
        assert a.spike.dtype == b.spike.dtype == np.float32
        np.testing.assert_array_equal(a.spike, b.spike)
        np.testing.assert_array_equal(a.spike, expected_voxel(TRAIN, a.frame, prepared.geometry))
        np.testing.assert_array_equal(a.blur, sample_image(f"{TRAIN}/{a.frame}", "blur", (8, 12)))
        np.testing.assert_array_equal(b.sharp, sample_image(f"{TRAIN}/{a.frame}", "sharp", (8, 12)))


def test_spikes_mode_returns_the_decoded_frames_in_numeric_frame_order(prepared) -> None:  # type: ignore[no-untyped-def]
    dataset = GoproSpikeDataset.from_config(prepared.config, "test", mode="spikes")
    assert [frame for _, frame in dataset.frames()] == ["7", "8", "10"]
    sample = dataset[-1]
    assert (sample.sequence, sample.frame) == ("GOPR0384_11_00", "10")
    np.testing.assert_array_equal(sample.spike, sample_spikes(f"{TEST}/10", prepared.geometry))
    with pytest.raises(IndexError):
        dataset[3]


def test_ram_cache_keeps_to_its_byte_budget_and_evicts_least_recently_used(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    prepare_tree(tree.config)
    one = GoproSpikeDataset.from_config(tree.config, "test")[0].nbytes
    dataset = GoproSpikeDataset.from_config(tree.config, "test", cache_bytes=2 * one + one // 2)
    first = dataset[0]
    again = dataset[0]  # served from the cache, as a copy of its own
    assert again is not first and np.array_equal(again.spike, first.spike)
    dataset[1]
    dataset[0]  # 0 is now the most recently used
    dataset[2]  # evicts 1
    stats = dataset.cache.stats()
    assert (stats.hits, stats.misses, stats.evictions, stats.size, stats.nbytes) == (2, 3, 1, 2, 2 * one)
    dataset[1]  # evicted: read again
    assert dataset.cache.stats().misses == 4
    assert dataset.cache.stats().nbytes <= dataset.cache.budget
    uncached = GoproSpikeDataset.from_config(tree.config, "test", cache_bytes=one - 1)
    uncached[0]
    assert uncached.cache.stats().size == 0


def test_cache_rejects_a_negative_budget_and_modes_need_bins(tmp_path: Path) -> None:
    with pytest.raises(GoproError, match="negative"):
        SampleCache(-1)
    tree = build(tmp_path, "bytes", voxels=None)
    prepare_tree(tree.config)
    with pytest.raises(GoproError, match="mode 'realtime' returns voxels: give bins"):
        GoproSpikeDataset.from_config(tree.config, "train")
    with pytest.raises(GoproError, match="is not a prepared split"):
        GoproSpikeDataset.from_config(tree.config, "val", mode="spikes")


def _load_in_worker(dataset: GoproSpikeDataset) -> tuple[int, float]:
    return dataset.cache.stats().size, float(dataset[1].spike.sum())


def test_dataset_pickles_without_its_cache_and_loads_in_worker_processes(tmp_path: Path) -> None:
    tree = build(tmp_path, "bitpacked")
    prepare_tree(tree.config)
    dataset = GoproSpikeDataset.from_config(tree.config, "test", cache_bytes=10**6)
    expected = float(dataset[1].spike.sum())
    assert dataset.cache.stats().size == 1
    assert pickle.loads(pickle.dumps(dataset)).cache.stats().size == 0
    with multiprocessing.get_context("fork").Pool(resolve_workers("cpu*1.0", cpus=2)) as pool:
        assert pool.map(_load_in_worker, [dataset, dataset]) == [(0, expected), (0, expected)]
    assert resolve_workers is memory_resolve_workers


def test_dataset_follows_the_linked_sources(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes", sources=["blur_gamma", "sharp"])
    prepare_tree(tree.config)
    dataset = GoproSpikeDataset.from_config(tree.config, "test", mode="precomputed")
    assert dataset.folders["blur"] == "blur_gamma" and len(dataset) == 3
    np.testing.assert_array_equal(dataset[0].blur, sample_image(f"{TEST}/7", "blur_gamma", (8, 12)))
