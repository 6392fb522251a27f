"""Writing LeRobot v3.0 datasets: per-episode staging while frames stream in, then packing into shared files
and a crash-safe commit (append or replace)."""

from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, CommittedSource, recover_dataset
from dataprep.lerobot.episode_writer import EpisodeWriter, StagedEpisode
from dataprep.lerobot.finalize import Commit, DatasetSummary, finalize_dataset
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.info import DatasetInfo, DatasetInfoError, FeatureInfo
from dataprep.lerobot.packing import PackLimits
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
from dataprep.lerobot.video_concat import VideoConcatError, VideoFileInfo, VideoSpan, concat_videos, probe_video

__all__ = [
    "COMMIT_PATH",
    "CameraFeature",
    "Commit",
    "CommitRecord",
    "CommittedSource",
    "DatasetInfo",
    "DatasetInfoError",
    "DatasetSchema",
    "DatasetSummary",
    "EpisodeWriter",
    "FeatureInfo",
    "FeatureStats",
    "ImageStats",
    "PackLimits",
    "StagedEpisode",
    "VectorFeature",
    "VideoConcatError",
    "VideoEncoder",
    "VideoFileInfo",
    "VideoInfo",
    "VideoSettings",
    "VideoSpan",
    "aggregate_stats",
    "column_stats",
    "concat_videos",
    "count_video_frames",
    "finalize_dataset",
    "probe_video",
    "read_video_frames",
    "recover_dataset",
    "set_encoder_threads",
]
