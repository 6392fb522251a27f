"""Writing LeRobot v3.0 datasets: per-episode staging while frames stream in, then atomic assembly."""

from dataprep.lerobot.episode_writer import EpisodeWriter, StagedEpisode
from dataprep.lerobot.finalize import DatasetSummary, finalize_dataset
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.stats import FeatureStats, aggregate_stats, column_stats
from dataprep.lerobot.video import (
    VideoEncoder,
    VideoInfo,
    VideoSettings,
    count_video_frames,
    read_video_frames,
    set_encoder_threads,
)

__all__ = [
    "CameraFeature",
    "DatasetSchema",
    "DatasetSummary",
    "EpisodeWriter",
    "FeatureStats",
    "ImageStats",
    "StagedEpisode",
    "VectorFeature",
    "VideoEncoder",
    "VideoInfo",
    "VideoSettings",
    "aggregate_stats",
    "column_stats",
    "count_video_frames",
    "finalize_dataset",
    "read_video_frames",
    "set_encoder_threads",
]
