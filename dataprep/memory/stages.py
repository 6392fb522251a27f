"""The memory plan of every stage of a pipeline configuration: one row each, for `flows.memory_report`.

Bags: the conversion plan (need, chunk size, workers). GoPro + spike: the loader's need for a whole split
and its cache. HDF5: the segment reader's mode and the replay sampler's read-ahead. A stage whose sources
cannot be read gets a row saying why; the other rows are still planned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dataprep.config import ConvertConfig, GoproPrepareConfig, Hdf5IndexConfig, PipelineConfig
from dataprep.errors import DataprepError
from dataprep.memory.conversion import plan_bag_conversion
from dataprep.memory.estimators import gopro_sample_bytes, replay_batch_bytes, replay_sampler_bytes
from dataprep.memory.monitor import SystemMemory
from dataprep.memory.snapshot import MB
from dataprep.memory.sources import read_gopro_figures, read_hdf5_figures
from dataprep.memory.strategy import gopro_loader_settings, replay_settings, segment_reader_settings
from dataprep.rosbag import find_bags

logger = logging.getLogger(__name__)

REPLAY_BATCH = 256  # the batch the replay row is planned for (ReplaySampler.sample(256), 224 px images)
REPLAY_IMAGE_SIZE = 224


@dataclass(frozen=True)
class StagePlan:
    stage: str
    need: int | None  # bytes; None when the sources could not be read
    available: int
    strategy: str
    chunk_size: int | None
    workers: int | None
    settings: str  # what to pass on, or why there is no plan

    def as_row(self) -> dict[str, str | int]:
        """Megabytes and text, for tables."""
        return {"stage": self.stage, "need_mb": "?" if self.need is None else round(self.need / MB),
                "available_mb": round(self.available / MB), "strategy": self.strategy,
                "chunk_size": "" if self.chunk_size is None else self.chunk_size,
                "workers": "" if self.workers is None else self.workers, "settings": self.settings}


def plan_bags(config: ConvertConfig, system: SystemMemory) -> StagePlan:
    bags = find_bags(config.input.bags)
    plan = plan_bag_conversion(config, bags, system=system)
    return StagePlan("rosbag_to_lerobot", plan.need_bytes, system.available, f"stream, chunks of {plan.chunk_size}",
                     plan.chunk_size, plan.workers, plan.reasoning)


def plan_gopro(config: GoproPrepareConfig, system: SystemMemory, loader_workers: int) -> StagePlan:
    figures = read_gopro_figures(config)
    spike = config.spike
    planes, dtype = (config.voxels.bins, config.voxels.dtype) if config.voxels else (spike.frames, "uint8")
    total = figures.frames * gopro_sample_bytes(figures.height, figures.width, planes, spike.height, spike.width,
                                                dtype)
    settings = gopro_loader_settings(total, system.available, loader_workers)
    return StagePlan("gopro_prepare", total, system.available, settings.strategy.kind, None, loader_workers,
                     f"GoproSpikeDataset.from_config(..., cache_bytes={settings.cache_bytes}) per worker; "
                     f"{settings.strategy.reasoning}; {figures.source}")


def plan_hdf5(config: Hdf5IndexConfig, system: SystemMemory, loader_workers: int) -> list[StagePlan]:
    figures = read_hdf5_figures(config)
    rows = []
    if figures.segment_bytes:
        seg = segment_reader_settings(figures.segment_bytes, figures.largest_segment_file, system.available,
                                      loader_workers)
        rows.append(StagePlan("hdf5_index segments", figures.segment_bytes, system.available, seg.strategy.kind,
                              None, loader_workers, f"SegmentDataset(index, mode={seg.mode!r}, "
                              f"cache_files={seg.cache_files}); {seg.strategy.reasoning}; {figures.source}"))
    if figures.replay_bytes:
        batch = replay_batch_bytes(REPLAY_BATCH, REPLAY_IMAGE_SIZE)
        rep = replay_settings(figures.index_bytes, batch, figures.replay_bytes, system.available)
        need = replay_sampler_bytes(figures.index_bytes, REPLAY_BATCH, REPLAY_IMAGE_SIZE, rep.prefetch)
        rows.append(StagePlan("hdf5_index replay", need,
                              system.available, "lazy sampler", None, None,
                              f"ReplaySampler(index, prefetch={rep.prefetch}) for batches of {REPLAY_BATCH} at "
                              f"{REPLAY_IMAGE_SIZE} px; sources {rep.strategy.reasoning}; {figures.source}"))
    return rows


def plan_pipeline(config: PipelineConfig, system: SystemMemory, loader_workers: int = 0) -> list[StagePlan]:
    """One row per configured stage (two for an HDF5 index of both kinds); `loader_workers` is the DataLoader
    worker count the readers are planned for (each holds its own cache)."""
    planners = {
        "rosbag_to_lerobot": lambda section: [plan_bags(section, system)],
        "gopro_prepare": lambda section: [plan_gopro(section, system, loader_workers)],
        "hdf5_index": lambda section: plan_hdf5(section, system, loader_workers),
    }
    rows: list[StagePlan] = []
    for stage, planner in planners.items():
        section = getattr(config, stage)
        if section is None:
            continue
        try:
            rows += planner(section)
        except (DataprepError, OSError) as err:
            logger.info("memory plan of %s failed", stage, exc_info=err)
            rows.append(StagePlan(stage, None, system.available, "no plan", None, None, str(err)))
    return rows
