"""ROS bags to LeRobot v3.0: the one-pass bag conversion, staging, and dataset assembly.

Around the pass: each bag's failures contained and named (`containment`), episodes cut at annotated
segments and gaps (`episode_sink`, `annotations`), and each episode's quality measured and reported
(`quality`, `quality_report`). Around the run: how many bags at once (`workers`; `stage` puts the conversion
in the stage contract), the dataset's
lock, and the removal of staged bags no plan uses (`cleanup`).
"""

from dataprep.conversion.bag_to_episodes import ChunkReport, build_schema, convert_bag
from dataprep.conversion.cleanup import StagingCleanup, clean_staging
from dataprep.conversion.containment import contained_failure, run_level_error
from dataprep.conversion.dataset import (
    ConversionPlan,
    ConversionReport,
    conclude_conversion,
    conversion_lock,
    finalize_conversion,
    plan_conversion,
    rejected_failures,
    with_absolute_paths,
)
from dataprep.conversion.quality_report import QUALITY_PATH, quality_markdown
from dataprep.conversion.stage import ConversionStage, bag_claim_path, convert_dataset
from dataprep.conversion.staging import BagConversion, EpisodeReport, bag_key, lock_path, staging_root
from dataprep.conversion.workers import BagWorkers, largest_first, plan_bag_workers
from dataprep.lerobot.episode_quality import EpisodeQuality

__all__ = [
    "QUALITY_PATH",
    "BagConversion",
    "BagWorkers",
    "ChunkReport",
    "ConversionPlan",
    "ConversionReport",
    "ConversionStage",
    "EpisodeQuality",
    "EpisodeReport",
    "StagingCleanup",
    "bag_claim_path",
    "bag_key",
    "build_schema",
    "clean_staging",
    "conclude_conversion",
    "contained_failure",
    "conversion_lock",
    "convert_bag",
    "convert_dataset",
    "finalize_conversion",
    "largest_first",
    "lock_path",
    "plan_bag_workers",
    "plan_conversion",
    "quality_markdown",
    "rejected_failures",
    "run_level_error",
    "staging_root",
    "with_absolute_paths",
]
