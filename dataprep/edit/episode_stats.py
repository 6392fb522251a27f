"""Statistics of an episode an edit changed (a trimmed one): recomputed from its new rows and frames only.

Vectors come from its rows in the new data file; cameras from its frames (decoded from the new video, or
the PNG bytes of an image column), with the conventions the conversion uses (lerobot.image_stats): every
frame in pixel samples for video, lerobot's frame sample for images. Every other episode keeps its
statistics; only the numbers an edit changes (`episode_index`, `index`, `task_index`) are recomputed,
which needs no data.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import pyarrow as pa

from dataprep.errors import DataprepError
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import DEFAULT_FEATURES
from dataprep.lerobot.stats import FeatureStats, column_stats


def numbering_stats(episode: int, first_frame: int, tasks: np.ndarray) -> dict[str, FeatureStats]:
    """The three dataset-global columns' statistics of an episode with its new numbers."""
    n = len(tasks)
    return {
        "episode_index": column_stats(np.full(n, episode), "episode_index"),
        "index": column_stats(np.arange(first_frame, first_frame + n), "index"),
        "task_index": column_stats(tasks, "task_index"),
    }


def rows_stats(info: DatasetInfo, rows: pa.Table, name: str) -> dict[str, FeatureStats]:
    """Statistics of every numeric column of an episode's rows (user vectors and the five defaults)."""
    stats = {}
    for key, feature in info.features.items():
        if feature.dtype in ("video", "image") or key not in rows.column_names:
            continue
        column = rows.column(key).combine_chunks()
        values = column.flatten() if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type) \
            else column
        flat = values.to_numpy(zero_copy_only=False).reshape(rows.num_rows, -1)
        stats[key] = column_stats(flat if key not in DEFAULT_FEATURES else flat[:, 0], f"{name}: {key}")
    return stats


def frames_stats(frames: Iterable[np.ndarray], every_frame: bool, name: str) -> FeatureStats:
    """One camera's statistics over the frames given (RGB uint8)."""
    stats = ImageStats(every_frame, name=name)
    try:
        for frame in frames:
            stats.update(frame)
        return stats.result()
    finally:
        stats.close()


def png_frames(column: pa.ChunkedArray) -> Iterable[np.ndarray]:
    """RGB frames of an image column (struct<bytes, path>), decoded one at a time."""
    for item in column.to_pylist():
        image = cv2.imdecode(np.frombuffer(item["bytes"], dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataprepError("an image of the episode is not a readable PNG")
        yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image[:, :, None]
