"""An episode's statistics: cameras measured frame by frame as they arrive, columns read back once staged."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dataprep.lerobot.arrow_arrays import numpy_view
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.schema import DatasetSchema
from dataprep.lerobot.stats import FeatureStats, column_stats


class EpisodeStats:
    """Statistics of every staged feature: user vectors, cameras, timestamp and frame_index."""

    def __init__(self, schema: DatasetSchema, source: str, spill_dir: Path | None = None) -> None:
        self.schema, self.source = schema, source
        every_frame = schema.camera_storage == "video"  # lerobot's streaming convention, see image_stats
        self._images = {
            c.key: ImageStats(every_frame, name=f"{source}: {c.key}", depth=bool(c.depth_unit), spill_dir=spill_dir)
            for c in schema.cameras
        }

    def add_images(self, images: Mapping[str, np.ndarray]) -> None:
        for key, image in images.items():
            self._images[key].update(image)

    def result(self, data_path: Path, frames: int) -> dict[str, FeatureStats]:
        """Exact statistics of every staged column, read back one column at a time (a column is small)."""
        rows = pq.ParquetFile(data_path)
        stats = {}
        for vec in self.schema.vectors:
            column = rows.read(columns=[vec.key]).column(0).combine_chunks()
            values = column.flatten() if vec.dim > 1 else column
            flat = numpy_view(values).reshape(frames, vec.dim)
            stats[vec.key] = column_stats(flat, name=f"{self.source}: {vec.key}")
        frame_index = np.arange(frames, dtype=np.int64)
        stats["timestamp"] = column_stats((frame_index / self.schema.fps).astype(np.float32), "timestamp")
        stats["frame_index"] = column_stats(frame_index, "frame_index")
        stats.update({key: s.result() for key, s in self._images.items()})
        return stats

    def close(self) -> None:
        """Close every camera's temporary file, even when one fails (an open one keeps its disk space)."""
        with contextlib.ExitStack() as closing:  # runs every close, then raises the first error
            for image_stats in self._images.values():
                closing.callback(image_stats.close)
