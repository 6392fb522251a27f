"""The memory plan counts the DataLoader's read-ahead: prefetch_factor batches per worker, pinned copies,
and a sampler per worker (issue 21 item 4)."""

from __future__ import annotations

from dataprep.config.loader import LoaderSpec
from dataprep.memory import MB, plan_loader
from dataprep.memory.estimators import replay_batch_bytes
from dataprep.memory.monitor import GpuMemory
from dataprep.memory.strategy import replay_settings

GB = 1024 * MB


def test_replay_need_counts_a_sampler_per_worker_and_the_loaders_in_flight_batches() -> None:
    batch = replay_batch_bytes(256, 224)  # 231 MB
    alone = replay_settings(10 * MB, batch, 5 * GB, 16 * GB)
    assert alone.prefetch == 2 and alone.need == 10 * MB + (2 + 2) * batch
    workers = replay_settings(10 * MB, batch, 5 * GB, 16 * GB, workers=2, prefetch_factor=2)
    # each worker: its index and two live batches; the loader: 2 x 2 batches ahead; no sampler prefetch thread
    assert workers.prefetch == 0 and workers.need == 2 * (10 * MB + 2 * batch) + 4 * batch
    assert replay_settings(10 * MB, batch, 5 * GB, 16 * GB, workers=4, prefetch_factor=4).need > workers.need


def test_plan_loader_reports_the_read_ahead_bytes_per_worker_and_pinned_copy() -> None:
    spec = LoaderSpec(batch_size=256, num_workers=2, prefetch_factor=3, pin_memory=True)
    batch = replay_batch_bytes(256, 224)
    settings = plan_loader(spec, [GpuMemory(0, "a", 8 * GB, 8 * GB)], cpus=4, batch_bytes=batch)
    assert settings.in_flight_batches == 6 and settings.prefetch_bytes(batch) == 2 * 6 * batch
    assert f"2 worker(s) x prefetch_factor 3 = 6 batches of {batch / MB:.0f} MB, each pinned once more" \
        in settings.reasoning
    none = plan_loader(LoaderSpec(batch_size=8, num_workers=0), [], cpus=4, batch_bytes=batch)
    assert none.in_flight_batches == 0 and none.prefetch_bytes(batch) == 0 and "read-ahead" not in none.reasoning
