"""Memory formulas, strategy thresholds, batch sizes and DataLoader settings, with injected machine figures."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from dataprep.config.loader import LoaderSpec
from dataprep.errors import DataprepError
from dataprep.memory import MB, SystemMemory, memory_report
from dataprep.memory.batch import floor_power_of_two, plan_batch_size, plan_gpu_batch, plan_loader
from dataprep.memory.estimators import (
    CameraShape,
    episode_bytes,
    gopro_sample_bytes,
    image_set_bytes,
    replay_batch_bytes,
    replay_sampler_bytes,
    segments_bytes,
    text_bytes,
    vqa_bytes,
)
from dataprep.memory.monitor import GpuMemory, read_gpus
from dataprep.memory.strategy import choose_strategy, gopro_loader_settings, replay_settings, segment_reader_settings

GB = 1024 * MB


def test_estimators_multiply_count_shape_and_dtype() -> None:
    assert image_set_bytes(10, 480, 640, 3, "uint8") == 10 * 480 * 640 * 3
    assert image_set_bytes(2, 4, 4, 1, "float32") == 2 * 16 * 4
    assert text_bytes(100, 512, "int64") == 100 * 2 * 512 * 8
    assert vqa_bytes(100, 512, 224, 224) == text_bytes(100, 512) + image_set_bytes(100, 224, 224)
    assert vqa_bytes(100, 512, 224, 224, lazy_images=True) == text_bytes(100, 512)
    cameras = [CameraShape(480, 640), CameraShape(240, 320, 1, "uint16")]
    assert episode_bytes(50, cameras, (16, 7)) == 50 * (480 * 640 * 3 + 240 * 320 * 2 + 23 * 4)
    assert segments_bytes(1000, ("float32", "float32", "float32", "uint8")) == 13_000
    assert gopro_sample_bytes(720, 1280, 5, 396, 640, "float32") == 2 * 720 * 1280 * 3 + 5 * 396 * 640 * 4
    assert replay_batch_bytes(256, 224) == 6 * 256 * 224 * 224 * 3
    assert replay_sampler_bytes(1000, 256, 224, 2) == 1000 + 4 * replay_batch_bytes(256, 224)


def test_estimators_name_a_negative_count_and_an_unknown_dtype() -> None:
    with pytest.raises(DataprepError, match="count must be >= 0, got -1"):
        image_set_bytes(-1, 4, 4)
    with pytest.raises(DataprepError, match="unknown dtype 'float7'"):
        text_bytes(1, 4, "float7")


@pytest.mark.parametrize(("need", "available", "kind"), [
    (49, 100, "preload"),
    (50, 100, "lazy"),  # half of available is no longer "under half"
    (199, 100, "lazy"),
    (200, 100, "stream"),
    (0, 0, "stream"),  # nothing available: stream, however small the need
    (10, -5, "stream"),
])
def test_strategy_preloads_under_half_caches_under_twice_and_streams_beyond(need: int, available: int,
                                                                           kind: str) -> None:
    assert choose_strategy(need * MB, available * MB).kind == kind


def test_segment_reader_settings_are_what_segment_dataset_takes() -> None:
    from dataprep.hdf5 import SegmentDataset  # the names below are its parameters

    assert {"mode", "cache_files"} <= set(SegmentDataset.__init__.__code__.co_varnames)
    assert segment_reader_settings(400 * MB, 50 * MB, 1000 * MB).mode == "preload_all"
    # two workers each preload a copy: 800 MB is no longer under half of 1000 MB
    lazy = segment_reader_settings(400 * MB, 50 * MB, 1000 * MB, workers=2)
    assert (lazy.mode, lazy.cache_files) == ("lru", 5)  # 0.5 x 1000 MB / 2 workers / 50 MB files
    assert segment_reader_settings(1500 * MB, 600 * MB, 1000 * MB).mode == "on_demand"  # a file > the cache share
    assert segment_reader_settings(5000 * MB, 10 * MB, 1000 * MB).mode == "on_demand"  # stream
    assert segment_reader_settings(10 * MB, 1 * MB, 0).mode == "on_demand"


def test_gopro_loader_cache_holds_the_split_when_preloading_and_a_share_per_worker_when_lazy() -> None:
    from dataprep.gopro import GoproSpikeDataset

    assert "cache_bytes" in GoproSpikeDataset.from_config.__code__.co_varnames
    assert gopro_loader_settings(100 * MB, 1000 * MB).cache_bytes == 100 * MB
    lazy = gopro_loader_settings(1500 * MB, 1000 * MB, workers=4)
    assert (lazy.strategy.kind, lazy.cache_bytes) == ("lazy", 1000 * MB // 2 // 4)
    copies = gopro_loader_settings(300 * MB, 1000 * MB, workers=4)  # fits once, not once per worker
    assert (copies.strategy.kind, copies.cache_bytes) == ("lazy", 1000 * MB // 2 // 4)
    assert "4 worker copies take 1200 MB" in copies.strategy.reasoning
    assert gopro_loader_settings(3000 * MB, 1000 * MB).cache_bytes == 0


def test_replay_prefetch_needs_room_for_the_read_ahead_batches() -> None:
    batch = replay_batch_bytes(256, 224)  # 231 MB
    assert replay_settings(10 * MB, batch, 5 * GB, 16 * GB).prefetch == 2
    assert replay_settings(10 * MB, batch, 5 * GB, 1 * GB).prefetch == 0


@pytest.mark.parametrize(("n", "expected"), [(0, 0), (1, 1), (2, 2), (3, 2), (63, 32), (64, 64), (65, 64)])
def test_floor_power_of_two(n: int, expected: int) -> None:
    assert floor_power_of_two(n) == expected


def test_batch_size_fills_the_safe_share_beside_the_model_rounded_down_to_a_power_of_two() -> None:
    # 0.7 x 1000 MB = 700 MB; model 25M params x 4 B = 100 MB; 600 MB / 10 MB = 60 samples -> 32
    plan = plan_batch_size(1000 * MB, 25 * MB, 10 * MB, bytes_per_param=4)
    assert plan.batch_size == 32
    assert "60 samples fit, rounded down to 32" in plan.reasoning
    assert plan_batch_size(1000 * MB, 25 * MB, 10 * MB, bytes_per_param=4, safety=0.9).batch_size == 64


def test_huge_model_and_zero_memory_give_batch_0_and_require_says_why() -> None:
    huge = plan_batch_size(16 * GB, 10_000_000_000, MB)
    assert huge.batch_size == 0
    with pytest.raises(DataprepError, match="the model alone does not fit"):
        huge.require()
    assert plan_batch_size(0, 1000, MB).batch_size == 0
    tight = plan_batch_size(100 * MB, 0, 80 * MB)  # 70 MB usable, one sample needs 80
    assert tight.batch_size == 0
    with pytest.raises(DataprepError, match="not one sample fits"):
        tight.require()
    with pytest.raises(DataprepError, match="must be > 0"):
        plan_batch_size(GB, 0, 0)


def test_no_gpu_gives_no_batch_with_the_reason_and_the_smallest_gpu_decides() -> None:
    none = plan_gpu_batch([], 1000, MB)
    assert none.batch_size is None
    assert "no GPU" in none.reasoning
    with pytest.raises(DataprepError, match="no GPU"):
        none.require()
    gpus = [GpuMemory(0, "big", 80 * GB, 80 * GB), GpuMemory(1, "small", 16 * GB, 1000 * MB)]
    plan = plan_gpu_batch(gpus, 25 * MB, 10 * MB, bytes_per_param=4)
    assert plan.batch_size == 32
    assert plan.reasoning.startswith("gpu 1 (small")


def test_loader_splits_workers_per_gpu_and_sizes_the_batch_on_the_gpu() -> None:
    gpus = [GpuMemory(0, "a", 2000 * MB, 1000 * MB), GpuMemory(1, "b", 2000 * MB, 1000 * MB)]
    spec = LoaderSpec(num_workers="auto", model_params=25 * MB, bytes_per_param=4, activation_mb_per_sample=10)
    settings = plan_loader(spec, gpus, cpus=10)
    assert (settings.batch_size, settings.num_workers, settings.pin_memory) == (32, 4, True)  # 8 workers / 2 GPUs
    assert settings.dataloader_kwargs() == {"batch_size": 32, "num_workers": 4, "pin_memory": True,
                                            "persistent_workers": True, "prefetch_factor": 2}
    cpu = plan_loader(LoaderSpec(batch_size=16, num_workers="cpu*0.5", pin_memory="auto"), [], cpus=6)
    assert (cpu.batch_size, cpu.num_workers, cpu.pin_memory) == (16, 3, False)


def test_loader_with_no_workers_sets_no_prefetch_factor_and_no_persistent_workers() -> None:
    settings = plan_loader(LoaderSpec(batch_size=8, num_workers=0), [], cpus=4)
    assert settings.dataloader_kwargs() == {"batch_size": 8, "num_workers": 0, "pin_memory": False,
                                            "persistent_workers": False}


def test_loader_auto_batch_needs_the_model_figures_and_fails_on_a_huge_model() -> None:
    with pytest.raises(DataprepError, match=r"needs loader\.model_params and loader\.activation_mb_per_sample"):
        plan_loader(LoaderSpec(), [GpuMemory(0, "a", GB, GB)], cpus=2)
    huge = LoaderSpec(model_params=10**10, activation_mb_per_sample=1)
    with pytest.raises(DataprepError, match="the model alone does not fit"):
        plan_loader(huge, [GpuMemory(0, "a", GB, GB)], cpus=2)
    assert plan_loader(huge, [], cpus=2).batch_size is None  # no GPU: nothing to size, not an error


def test_loader_spec_rejects_unreadable_worker_counts_and_batch_sizes() -> None:
    with pytest.raises(ValidationError, match="'cpu\\*lots'"):
        LoaderSpec(num_workers="cpu*lots")
    with pytest.raises(ValidationError, match="batch_size must be >= 1"):
        LoaderSpec(batch_size=0)


def test_gpus_are_absent_not_an_error_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # importing it now raises ImportError
    assert read_gpus() == ()
    report = memory_report()
    assert report.gpus == ()
    assert "gpu      none" in report.format()
    assert report.system.total > 0 and report.process.rss > 0 and report.process.peak_rss >= report.process.rss


def test_system_figures_given_by_hand_derive_used_and_percent() -> None:
    system = SystemMemory.of(total=8 * GB, available=2 * GB)
    assert (system.used, system.percent) == (6 * GB, 75.0)
    assert SystemMemory.of(0, 0).percent == 0.0
