"""Each episode's numeric features, read from the data parquet in row-group batches and thinned for plotting.

Only the plotted columns are read (no image bytes), one batch at a time. An episode of up to `MAX_POINTS`
frames is kept as is; a longer one is reduced to `MAX_POINTS` buckets holding the min and max of each element,
so a plot still shows every spike and an hour-long episode costs the same memory and page size as a short
one. Buckets are filled as batches go by (the episode's length is known from meta/episodes), so memory is
one batch plus the buckets of one episode, whatever the size of the dataset.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.viewer.errors import ViewerError
from dataprep.viewer.source import DatasetMeta, EpisodeRow

MAX_POINTS = 2000  # points per plotted element: enough for a 1500-pixel-wide plot, small per page
BATCH_ROWS = 4096  # rows read at once from a data parquet


@dataclass(frozen=True)
class EpisodeSeries:
    """One episode's plotted values: `low`/`high` per feature, shape (elements, points); equal when exact."""

    bucket: int  # frames per point (1: every frame)
    points: int
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]


class _Buckets:
    """Min and max of each element per bucket of frames, filled chunk by chunk."""

    def __init__(self, length: int, dims: dict[str, int]) -> None:
        self.bucket = max(1, math.ceil(length / MAX_POINTS))
        self.points = math.ceil(length / self.bucket) if length else 0
        self.low = {k: np.full((d, self.points), np.inf) for k, d in dims.items()}
        self.high = {k: np.full((d, self.points), -np.inf) for k, d in dims.items()}
        self.seen = 0

    def add(self, frames: np.ndarray, values: dict[str, np.ndarray]) -> None:
        where = np.clip(frames // self.bucket, 0, max(self.points - 1, 0))
        for key, block in values.items():  # block: (rows, elements)
            if self.bucket == 1:  # every frame its own point: a plain assignment, no reduction
                self.low[key][:, where] = self.high[key][:, where] = block.T
                continue
            for element in range(block.shape[1]):
                np.minimum.at(self.low[key][element], where, block[:, element])
                np.maximum.at(self.high[key][element], where, block[:, element])
        self.seen += len(frames)

    def result(self) -> EpisodeSeries:
        for table in (self.low, self.high):
            for array in table.values():
                array[~np.isfinite(array)] = np.nan  # a bucket no frame fell into (a gap in frame_index)
        return EpisodeSeries(self.bucket, self.points, self.low, self.high)


def _as_matrix(column: pa.ChunkedArray | pa.Array, dims: int) -> np.ndarray:
    """A vector (fixed or plain list) or scalar column as a float (rows, dims) array."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_fixed_size_list(array.type) or pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        flat = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        return flat.reshape(len(array), -1)[:, :dims] if len(array) else np.zeros((0, dims))
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64).reshape(-1, 1)


_Chunk = tuple[int, np.ndarray, dict[str, np.ndarray]]  # episode index, frame indexes, values per feature


class SeriesReader:
    """Reads the series of episodes in meta/episodes order, keeping one data file open at a time.

    Episodes sit in their data file in episode order (as every v3.0 writer puts them), so each file is read
    once from start to end; an episode found out of that order makes the reader start the file again.
    """

    def __init__(self, meta: DatasetMeta) -> None:
        self.meta = meta
        self.dims = {v.key: v.dims for v in meta.vectors}
        self._path: str | None = None
        self._chunks: Iterator[_Chunk] = iter(())
        self._pending: _Chunk | None = None

    def _open(self, relative: str) -> None:
        self._path, self._pending = relative, None
        self._chunks = self._read_chunks(self.meta.root / relative)

    def _read_chunks(self, path: Path) -> Iterator[_Chunk]:
        try:
            parquet = pq.ParquetFile(path)
            present = set(parquet.schema_arrow.names)
            keys = [key for key in self.dims if key in present]
            for batch in parquet.iter_batches(columns=[*keys, "episode_index", "frame_index"], batch_size=BATCH_ROWS):
                episodes = batch.column("episode_index").to_numpy()
                frames = batch.column("frame_index").to_numpy()
                values = {key: _as_matrix(batch.column(key), self.dims[key]) for key in keys}
                starts = [0, *(np.flatnonzero(np.diff(episodes)) + 1).tolist(), len(episodes)]
                for a, b in itertools.pairwise(starts):
                    yield int(episodes[a]), frames[a:b], {k: v[a:b] for k, v in values.items()}
        except FileNotFoundError as err:
            raise ViewerError(f"{path}: missing (meta/episodes names it as a data file)") from err
        except (OSError, pa.ArrowException, KeyError) as err:
            raise ViewerError(f"{path}: unreadable data file: {err}") from err

    def _next(self) -> _Chunk | None:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        return next(self._chunks, None)

    def series(self, row: EpisodeRow) -> EpisodeSeries:
        """The plotted values of the episode `row` describes."""
        if row.data_path != self._path:
            self._open(row.data_path)
        for attempt in range(2):
            buckets = _Buckets(row.length, self.dims)
            while (chunk := self._next()) is not None:
                episode, frames, values = chunk
                if episode == row.index:
                    buckets.add(frames, values)
                elif buckets.seen:
                    self._pending = chunk  # the next episode's first rows
                    break
            if buckets.seen or attempt:
                break
            self._open(row.data_path)  # not where the order said: read the file again from its start
        if not buckets.seen:
            raise ViewerError(f"{self.meta.root / row.data_path}: no rows of episode {row.index}, which "
                              "meta/episodes places in this file")
        return buckets.result()
