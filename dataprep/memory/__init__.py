"""Memory: snapshots and monitoring, estimates, strategies, and the plans that size chunks, workers and batches.

`monitor` reads the machine (system, process, GPUs); `estimators` are pure byte formulas; `strategy` chooses
preload / lazy / stream with the readers' own settings; `batch` sizes batches and DataLoaders; `conversion`
plans a bag conversion (`chunk_size: auto`, `memory_budget_mb`); `stages` plans every stage of a pipeline.
Every planner takes the machine's figures as an argument, so plans are testable anywhere.

The modules that read configuration (`batch`, `conversion`, `sources`, `stages`) are imported on first use:
`dataprep.config` itself imports the worker-count helper from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dataprep.memory.coefficients import CALIBRATE_COMMAND, Coefficients, EncoderCoefficients, load_coefficients
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
from dataprep.memory.monitor import (
    GpuMemory,
    MemoryReport,
    ProcessMemory,
    SystemMemory,
    memory_report,
    read_gpus,
    read_process,
    read_system,
)
from dataprep.memory.snapshot import MB, MemorySnapshot, peak_rss, take_snapshot
from dataprep.memory.strategy import (
    GoproLoaderSettings,
    ReplaySettings,
    SegmentReaderSettings,
    Strategy,
    choose_strategy,
    gopro_loader_settings,
    replay_settings,
    segment_reader_settings,
)
from dataprep.memory.workers import WorkerSpec, cpu_count, resolve_workers

if TYPE_CHECKING:
    from dataprep.memory.batch import BatchPlan, LoaderSettings, plan_batch_size, plan_gpu_batch, plan_loader
    from dataprep.memory.conversion import (
        ConversionMemoryError,
        ConversionMemoryPlan,
        plan_bag_conversion,
        resolve_conversion_config,
    )
    from dataprep.memory.stages import StagePlan, plan_pipeline

_LAZY = {
    "BatchPlan": "batch", "LoaderSettings": "batch", "plan_batch_size": "batch", "plan_gpu_batch": "batch",
    "plan_loader": "batch", "ConversionMemoryError": "conversion", "ConversionMemoryPlan": "conversion",
    "plan_bag_conversion": "conversion", "resolve_conversion_config": "conversion",
    "StagePlan": "stages", "plan_pipeline": "stages",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"dataprep.memory.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CALIBRATE_COMMAND",
    "MB",
    "BatchPlan",
    "CameraShape",
    "Coefficients",
    "ConversionMemoryError",
    "ConversionMemoryPlan",
    "EncoderCoefficients",
    "GoproLoaderSettings",
    "GpuMemory",
    "LoaderSettings",
    "MemoryReport",
    "MemorySnapshot",
    "ProcessMemory",
    "ReplaySettings",
    "SegmentReaderSettings",
    "StagePlan",
    "Strategy",
    "SystemMemory",
    "WorkerSpec",
    "choose_strategy",
    "cpu_count",
    "episode_bytes",
    "gopro_loader_settings",
    "gopro_sample_bytes",
    "image_set_bytes",
    "load_coefficients",
    "memory_report",
    "peak_rss",
    "plan_bag_conversion",
    "plan_batch_size",
    "plan_gpu_batch",
    "plan_loader",
    "plan_pipeline",
    "read_gpus",
    "read_process",
    "read_system",
    "replay_batch_bytes",
    "replay_sampler_bytes",
    "replay_settings",
    "resolve_conversion_config",
    "resolve_workers",
    "segment_reader_settings",
    "segments_bytes",
    "take_snapshot",
    "text_bytes",
    "vqa_bytes",
]
