"""LeRobot v3.0 on-disk layout: every constant and path template the writer needs, in one place.

Values follow lerobot 0.6.1 (`lerobot/datasets/utils.py`, `lerobot/utils/constants.py`); the reader finds
every file through `meta/info.json` and `meta/episodes/`, so these templates must match it exactly.
"""

from __future__ import annotations

# lerobot's five default features (name -> dtype) live in the leaf module configuration also reads
from dataprep.feature_names import DEFAULT_FEATURES as DEFAULT_FEATURES  # noqa: PLC0414 (re-export, mypy strict)

# Version string lerobot checks in info.json; 0.6 refuses anything older than v3.0.
CODEBASE_VERSION = "v3.0"

# Max number of files in one `chunk-XXX` folder; file_index wraps to the next chunk after this many.
DEFAULT_CHUNKS_SIZE = 1000

# Size a shared data parquet may reach before the next file starts (an episode is never split).
DEFAULT_DATA_FILE_SIZE_IN_MB = 100

# Size a shared mp4 may reach before the next file starts.
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200

# `chunk-{chunk_index:03d}/file-{file_index:03d}`: the part every data, video and episodes path shares.
CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"

# Frame table of the dataset; recorded verbatim as `data_path` in info.json.
DATA_PATH = "data/" + CHUNK_FILE_PATTERN + ".parquet"

# One mp4 per video feature and file; recorded verbatim as `video_path` in info.json.
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"

# One row per episode: where its frames and videos are, and its statistics.
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE_PATTERN + ".parquet"

# Dataset description: version, fps, totals, path templates, features.
INFO_PATH = "meta/info.json"

# Dataset-wide statistics per feature, used by training code to normalize.
STATS_PATH = "meta/stats.json"

# Task texts; the pandas index (named "task") is the text, the column `task_index` its number.
TASKS_PATH = "meta/tasks.parquet"

# Name of the index of tasks.parquet; lerobot looks tasks up by this index, not by a column.
TASKS_INDEX_NAME = "task"

# The default features an episode writer knows before the episode has a place in the dataset.
EPISODE_LOCAL_FEATURES = ("timestamp", "frame_index")

# The default features only the final assembly can fill in.
DATASET_GLOBAL_FEATURES = ("episode_index", "index", "task_index")

# Statistics kept per feature, in lerobot's order (meta/stats.json and `stats/{feature}/{name}` columns).
STAT_NAMES = ("min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99")

# `names` lerobot records for a camera feature of shape [h, w, 3].
CAMERA_AXIS_NAMES = ("height", "width", "channels")


def chunk_and_file(file_number: int, chunks_size: int = DEFAULT_CHUNKS_SIZE) -> tuple[int, int]:
    """The (chunk_index, file_index) of the `file_number`-th file of a kind (0-based)."""
    if file_number < 0:
        raise ValueError(f"file number must be >= 0, got {file_number}")
    return divmod(file_number, chunks_size)


def data_file(chunk_index: int, file_index: int) -> str:
    """Dataset-relative path of a data parquet."""
    return DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)


def video_file(video_key: str, chunk_index: int, file_index: int) -> str:
    """Dataset-relative path of a video feature's mp4."""
    return VIDEO_PATH.format(video_key=video_key, chunk_index=chunk_index, file_index=file_index)


def episodes_file(chunk_index: int, file_index: int) -> str:
    """Dataset-relative path of an episodes metadata parquet."""
    return EPISODES_PATH.format(chunk_index=chunk_index, file_index=file_index)
