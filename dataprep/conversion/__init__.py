"""ROS bags to LeRobot v3.0: the one-pass bag conversion, staging, and dataset assembly.

Around the pass: each bag's failures contained and named (`containment`), episodes cut at annotated
segments and gaps (`episode_sink`, `annotations`), and each episode's quality measured and reported
(`quality`, `quality_report`).
"""

from dataprep.conversion.bag_to_episodes import ChunkReport, build_schema, convert_bag
from dataprep.conversion.containment import contained_failure, run_level_error
from dataprep.conversion.dataset import (
    BagFailure,
    ConversionPlan,
    ConversionReport,
    conclude_conversion,
    convert_dataset,
    finalize_conversion,
    plan_conversion,
)
from dataprep.conversion.quality import EpisodeQuality
from dataprep.conversion.quality_report import QUALITY_PATH, quality_markdown
from dataprep.conversion.staging import BagConversion, EpisodeReport, bag_key, staging_root

__all__ = [
    "QUALITY_PATH",
    "BagConversion",
    "BagFailure",
    "ChunkReport",
    "ConversionPlan",
    "ConversionReport",
    "EpisodeQuality",
    "EpisodeReport",
    "bag_key",
    "build_schema",
    "conclude_conversion",
    "contained_failure",
    "convert_bag",
    "convert_dataset",
    "finalize_conversion",
    "plan_conversion",
    "quality_markdown",
    "run_level_error",
    "staging_root",
]
