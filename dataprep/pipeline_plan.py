"""The memory plan of every stage of a pipeline configuration: one row each, for `flows.memory_report`.

Each stage plans its own rows (bags: `dataprep.conversion.memory_plan`; GoPro + spike:
`dataprep.gopro.memory_plan`; HDF5: `dataprep.hdf5.memory_plan`); this module only collects them, so it sits
above the stages and no stage imports it. A stage whose sources cannot be read gets a row saying why; the
other rows are still planned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dataprep.config import PipelineConfig
from dataprep.conversion.memory_plan import plan_bags
from dataprep.errors import DataprepError
from dataprep.gopro.memory_plan import plan_gopro
from dataprep.hdf5.memory_plan import plan_hdf5
from dataprep.memory import StagePlan, SystemMemory

logger = logging.getLogger(__name__)


def plan_pipeline(config: PipelineConfig, system: SystemMemory, loader_workers: int = 0) -> list[StagePlan]:
    """One row per configured stage (two for an HDF5 index of both kinds); `loader_workers` is the DataLoader
    worker count the readers are planned for (each holds its own cache)."""
    planners: dict[str, Callable[[Any], list[StagePlan]]] = {
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
