"""ROS bags to LeRobot v3.0: the one-pass bag conversion, staging, and dataset assembly.

Around the pass: each bag's failures contained and named (`containment`), episodes cut at annotated
segments and gaps (`episode_sink`, `annotations`), and each episode's quality measured and reported
(`quality`, `quality_report`). Around the run: how many bags at once (`workers`; `stage` puts the conversion
in the stage contract), the dataset's
lock, and the removal of staged bags no plan uses (`cleanup`).
"""

from dataprep.conversion.bag_to_episodes import ChunkReport, convert_bag
from dataprep.conversion.cleanup import StagingCleanup, clean_staging
from dataprep.conversion.dataset import ConversionPlan, ConversionReport, conclude_conversion, plan_conversion
from dataprep.conversion.stage import ConversionStage, convert_dataset
from dataprep.conversion.staging import BagConversion, EpisodeReport

__all__ = [
    "BagConversion",
    "ChunkReport",
    "ConversionPlan",
    "ConversionReport",
    "ConversionStage",
    "EpisodeReport",
    "StagingCleanup",
    "clean_staging",
    "conclude_conversion",
    "convert_bag",
    "convert_dataset",
    "plan_conversion",
]
