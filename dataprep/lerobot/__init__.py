"""Writing LeRobot v3.0 datasets: per-episode staging while frames stream in, then packing into shared files
and a crash-safe commit (append or replace)."""

from dataprep.lerobot.commit_record import recover_dataset
from dataprep.lerobot.episode_writer import EpisodeWriter, StagedEpisode
from dataprep.lerobot.finalize import Commit, DatasetSummary, finalize_dataset
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.packing import PackLimits
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.video import VideoSettings

__all__ = [
    "CameraFeature",
    "Commit",
    "DatasetInfo",
    "DatasetSchema",
    "DatasetSummary",
    "EpisodeWriter",
    "PackLimits",
    "StagedEpisode",
    "VectorFeature",
    "VideoSettings",
    "finalize_dataset",
    "recover_dataset",
]
