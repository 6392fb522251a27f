"""The figures the memory plans read from real sources (an HDF5 index, a GoPro tree, a measured child)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from gopro_mini import BINS, build
from hdf5_sources import index_config, write_sources

from dataprep.config import PipelineConfig
from dataprep.gopro import prepare_tree
from dataprep.gopro.memory_plan import read_gopro_figures
from dataprep.hdf5 import build_index
from dataprep.hdf5.memory_plan import read_hdf5_figures
from dataprep.memory import MB, SystemMemory
from dataprep.memory.estimators import gopro_sample_bytes
from dataprep.memory.measure import measure_python
from dataprep.pipeline_plan import plan_pipeline

POINT_BYTES = 3 * 4 + 1  # x, y, z float32 and a uint8 class


def all_dataset_bytes(path: Path) -> int:
    sizes: list[int] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: sizes.append(obj.nbytes) if isinstance(obj, h5py.Dataset) else None)
    return sum(sizes)


def test_hdf5_plan_takes_sizes_from_the_index_once_built_and_file_sizes_before(tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "src")
    config = index_config(tmp_path / "src", tmp_path / "index")
    before = read_hdf5_figures(config)
    assert before.source == "file sizes (no index built yet)"
    assert before.segment_bytes == sum(sources[k].stat().st_size for k in ("s1", "s2", "s3"))
    build_index(config)
    figures = read_hdf5_figures(config)
    assert figures.source.startswith("index ")
    assert (figures.segment_bytes, figures.largest_segment_file) == ((1000 + 700 + 512) * POINT_BYTES,
                                                                     1000 * POINT_BYTES)
    assert figures.replay_bytes == all_dataset_bytes(sources["a"]) + all_dataset_bytes(sources["b"])
    assert figures.index_bytes > 0
    need = figures.segment_bytes
    preload, lazy = (plan_pipeline(PipelineConfig(hdf5_index=config), SystemMemory.of(64 * MB, available))[0]
                     for available in (10 * MB, need))
    assert (preload.stage, preload.strategy, preload.need) == ("hdf5_index segments", "preload", need)
    assert "SegmentDataset(index, mode='preload_all'" in preload.settings
    assert lazy.strategy == "lazy"  # the need equals what is available: not under half of it
    assert "SegmentDataset(index, mode='lru', cache_files=1)" in lazy.settings  # half of it holds one 13 kB file


def test_gopro_plan_counts_the_prepared_frames_and_sizes_a_sample(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    raw = read_gopro_figures(tree.config)  # not prepared yet: the raw GoPro tree's sharp images
    assert (raw.frames, raw.height, raw.width) == (8, 8, 12)
    prepare_tree(tree.config)
    prepared = read_gopro_figures(tree.config)
    frames = len(list(tree.out.glob("*/*/sharp/*")))
    assert prepared.frames == frames < raw.frames
    (row,) = plan_pipeline(PipelineConfig(gopro_prepare=tree.config), SystemMemory.of(GB := 1024 * MB, GB), 2)
    g = tree.geometry
    assert row.need == frames * gopro_sample_bytes(8, 12, BINS, g.height, g.width, "float32")
    assert (row.strategy, row.workers) == ("preload", 2)
    assert f"cache_bytes={row.need}) per worker" in row.settings


def test_a_measured_child_reports_its_own_peak_not_its_parents() -> None:
    ballast = np.ones(300 * MB, dtype=np.uint8)  # this process is now 300 MB larger than the child will be
    peak = measure_python("block = bytearray(40 * 1024 * 1024)")
    assert 40 * MB < peak < 150 * MB
    del ballast
