"""Reading through HDF5 indexes: replay batches equal direct reads, prefetch, workers; segments and the LRU."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import IndexTables, ReplaySampler, SegmentDataset, build_index, collate_segments
from dataprep.hdf5.replay import ReplayBatch
from dataprep.sample import ReplayFileSpec, write_replay_file
from tests.hdf5_sources import index_config, read_image, write_sources

CAMERAS = ("left_image", "right_image", "global_image")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    root = tmp_path_factory.mktemp("sources")
    files = write_sources(root)
    build_index(index_config(root, root / "index", cache=24))
    return files, root / "index"


def assert_batch_is_direct_reads(batch: ReplayBatch, size: int | None = None) -> None:
    """Every field of every sample equals what h5py reads at the row the batch names (resized if asked)."""
    for k, (path, row) in enumerate(zip(batch.file, batch.row)):
        with h5py.File(path, "r") as f:
            terminal = bool(f["terminal"][row])
            nxt = row if terminal else row + 1
            assert batch.not_done[k] == (0.0 if terminal else 1.0)
            np.testing.assert_array_equal(batch.joint[k], f["joint"][row])
            np.testing.assert_array_equal(batch.next_joint[k], f["joint"][nxt])
            np.testing.assert_array_equal(batch.action[k], f["action"][row])
            assert batch.reward[k] == f["reward"][row]
        for cam in CAMERAS:
            for got, at in ((getattr(batch, cam)[k], row), (getattr(batch, f"next_{cam}")[k], nxt)):
                expected = read_image(path, cam, at)
                if size is not None:
                    expected = cv2.resize(np.ascontiguousarray(expected), (size, size), interpolation=cv2.INTER_LINEAR)
                np.testing.assert_array_equal(got, expected)


def test_sampled_batch_equals_direct_reads_of_the_rows_it_names(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    with ReplaySampler(out, image_size=32, seed=0) as sampler:  # stored size: no resize, raw rows
        batch = sampler.sample(64)
        assert batch.left_image.shape == (64, 32, 32, 3) and batch.left_image.dtype == np.uint8
        assert {Path(p).name for p in batch.file} == {"a.h5", "b.hdf5"}
        assert_batch_is_direct_reads(batch)
    with ReplaySampler(out, image_size=24, seed=1) as cached:  # from the 24x24 image cache
        batch = cached.sample(32)
        assert_batch_is_direct_reads(batch, size=24)
    with ReplaySampler(out, image_size=24, seed=1, use_cache=False) as resized:  # same rows, resized on read
        again = resized.sample(32)
        np.testing.assert_array_equal(again.row, batch.row)
        np.testing.assert_array_equal(again.next_global_image, batch.next_global_image)


def test_sampler_draws_only_transitions_and_respects_num_traj(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    sampler = ReplaySampler(out, image_size=32, num_traj=2, seed=3)
    batch = sampler.sample(200)
    first_file = Path(batch.file[0]).name
    assert {Path(p).name for p in batch.file} == {first_file}
    with h5py.File(batch.file[0], "r") as f:
        ends = np.flatnonzero(f["terminal"][()].astype(bool) | f["timeout"][()].astype(bool))
        timeout = f["timeout"][()].astype(bool)
    assert batch.row.max() <= ends[1] and not timeout[batch.row].any()
    assert len(sampler) == ends[1] + 1 - int(timeout[: ends[1] + 1].sum())
    np.testing.assert_array_equal(sampler[np.array([0, 5])].row, [0, 5])


def test_prefetch_queue_serves_batches_until_closed(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    sampler = ReplaySampler(out, image_size=24, prefetch=2, seed=4)
    batches = [sampler.sample(16) for _ in range(5)]
    assert all(len(b) == 16 for b in batches) and sampler._queue is not None and sampler._queue.qsize() <= 2
    assert_batch_is_direct_reads(batches[-1], size=24)
    assert len(sampler.sample(8)) == 8  # a new batch size restarts the producer
    thread = sampler._thread
    sampler.close()
    assert thread is not None and not thread.is_alive()


def _read_in_worker(sampler: ReplaySampler) -> np.ndarray:
    return sampler[np.arange(10)].left_image


def test_sampler_pickles_without_handles_and_reads_in_forked_workers(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    sampler = ReplaySampler(out, image_size=32)
    expected = sampler[np.arange(10)].left_image  # the parent has open handles now
    assert b"_fds" not in pickle.dumps(sampler._handles)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for got in pool.map(_read_in_worker, [sampler, sampler]):
            np.testing.assert_array_equal(got, expected)
    sampler.close()


def test_lru_evicts_the_least_recently_used_file(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    tables = IndexTables.load(out)
    names = [Path(tables.files[fid].path).name for fid in tables.segments["file_id"]]
    first = {name: names.index(name) for name in ("s1.h5", "s2.h5", "s3.h5")}  # a segment of each file
    dataset = SegmentDataset(out, mode="lru", cache_files=2)

    def visit(*files: str) -> list[str]:
        for name in files:
            assert Path(dataset[first[name]].file).name == name
        return [Path(p).name for p in dataset.cached_files]

    assert visit("s1.h5", "s2.h5", "s1.h5") == ["s2.h5", "s1.h5"] and dataset.loads == 2
    assert visit("s3.h5") == ["s1.h5", "s3.h5"] and dataset.loads == 3  # s2 was least recently used
    assert visit("s1.h5") == ["s3.h5", "s1.h5"] and dataset.loads == 3  # a hit loads nothing
    assert visit("s2.h5") == ["s1.h5", "s2.h5"] and dataset.loads == 4


def test_segment_modes_read_the_same_points_as_h5py(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    datasets = [SegmentDataset(out, mode=mode) for mode in ("preload_all", "lru", "on_demand")]
    assert datasets[0].loads == 3 and len(datasets[0]) == 7 + 5 + 4
    for i in (0, 6, 7, 15):
        segments = [d[i] for d in datasets]
        with h5py.File(segments[0].file, "r") as f:
            start = segments[0].start
            for column in ("x", "y", "z", "classification"):
                expected = f[f"data/{column}"][start:start + 128]
                for segment in segments:
                    np.testing.assert_array_equal(getattr(segment, column), expected)
    batch = collate_segments([datasets[2][i] for i in (0, 15)])
    assert batch.offsets.tolist() == [0, 128, 256] and len(batch.x) == 256 and len(batch) == 2
    np.testing.assert_array_equal(batch.x[128:], datasets[0][15].x)


def test_epoch_order_shuffles_across_files_and_groups_them_for_the_lru(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    lru = SegmentDataset(out, mode="lru", cache_files=2)
    order = lru.epoch_order(seed=0)
    assert sorted(order.tolist()) == list(range(len(lru)))
    for i in order:
        lru[int(i)]
    assert lru.loads == 3  # each file loaded once per epoch
    on_demand = SegmentDataset(out, mode="on_demand")
    assert sorted(on_demand.epoch_order(1).tolist()) == list(range(len(on_demand)))
    assert on_demand.epoch_order(1).tolist() != list(range(len(on_demand)))


def test_compressed_multi_sample_chunks_are_read_through_h5py(tmp_path: Path) -> None:
    path = write_replay_file(tmp_path / "replay/z.h5", ReplayFileSpec(rows=80, height=16, width=16, seed=5))
    with h5py.File(path, "a") as f:
        for cam in CAMERAS:
            images = f[f"observations/{cam}"][()]
            del f[f"observations/{cam}"]
            f.create_dataset(f"observations/{cam}", data=images, chunks=(8, 16, 16, 3), compression="gzip")
    build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": str(path)}],
                                                "output_root": str(tmp_path / "index")}))
    with ReplaySampler(tmp_path / "index", image_size=16, seed=2) as sampler:
        assert sampler._cameras[0]["left_image"].source.byte_offset(0) is None  # no pread on filtered data
        assert_batch_is_direct_reads(sampler.sample(24))


def test_batch_memory_is_reused_only_once_no_view_of_the_batch_is_left(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    sampler = ReplaySampler(out, image_size=24, seed=6)
    first = sampler.sample(16)
    base = id(first.right_image.base)  # an id, not a reference: the pool keeps the buffer itself
    view = first.right_image[3]
    kept = view.copy()
    del first
    second = sampler.sample(16)
    assert id(second.left_image.base) != base  # a view of the first batch is still alive
    np.testing.assert_array_equal(view, kept)
    del view, second
    third = sampler.sample(16)
    assert id(third.left_image.base) == base  # nothing refers to the first batch any more
    assert_batch_is_direct_reads(third, size=24)


def test_readers_read_without_importing_torch(built: tuple[dict[str, Path], Path]) -> None:
    """torch is an optional extra: the readers import and read without it (checked in a fresh interpreter, as
    other tests of the session may have imported torch)."""
    _, out = built
    code = ("import sys; from dataprep.hdf5 import ReplaySampler, SegmentDataset; import dataprep.gopro; "
            f"ReplaySampler({str(out)!r}, image_size=24).sample(4); SegmentDataset({str(out)!r})[0]; "
            "assert 'torch' not in sys.modules, 'a reader imported torch'")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
