"""`SegmentDataset`: point-cloud segments of many indexed files, in one of three memory modes.

- `preload_all`: every file's columns are read whole at construction (one contiguous read per column);
  segments are then views. Memory: the sum of the files.
- `lru`: whole files are loaded on first use and kept in a cache of `cache_files` files, the least recently
  used evicted first. Pair it with `epoch_order`, which shuffles across all files but visits them in
  groups of `cache_files`, so each file is loaded once per epoch instead of once per segment.
- `on_demand`: each segment is one contiguous read per column from a handle kept open per process.
Map-style (`len`, `[i]`), no torch needed; `collate_segments` makes a batch for a DataLoader, and
`dataprep.torchdata` has the torch views. Every mode returns arrays of the segment's own (writable, owning
their memory): cached files are copied out of, so changing a segment in place never changes the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dataprep.hdf5.errors import Hdf5Error, IndexFolderError
from dataprep.hdf5.index_file import IndexTables
from dataprep.hdf5.layout import SEGMENT_COLUMNS, segment_path
from dataprep.hdf5.rowread import FileHandles, RowSource, read_span

Mode = Literal["preload_all", "lru", "on_demand"]
MODES = ("preload_all", "lru", "on_demand")


@dataclass(frozen=True, eq=False)
class Segment:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    classification: np.ndarray
    file: str
    start: int  # first point of the segment in its file


@dataclass(frozen=True, eq=False)
class SegmentBatch:
    """Segments concatenated point by point; segment k holds points offsets[k]:offsets[k + 1]."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    classification: np.ndarray
    offsets: np.ndarray  # (B + 1,) int64
    file: tuple[str, ...]
    start: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def collate_segments(segments: Sequence[Segment]) -> SegmentBatch:
    """A DataLoader `collate_fn`: segments may differ in length, so points are concatenated, not stacked."""
    lengths = [len(s.x) for s in segments]
    x, y, z, classification = (np.concatenate([getattr(s, c) for s in segments]) for c in SEGMENT_COLUMNS)
    return SegmentBatch(
        x, y, z, classification,
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        file=tuple(s.file for s in segments), start=np.array([s.start for s in segments], dtype=np.int64),
    )  # fmt: skip


class SegmentDataset:
    def __init__(self, index_dir: Path | str, mode: Mode = "lru", cache_files: int = 5) -> None:
        if mode not in MODES:
            raise Hdf5Error(f"segment dataset mode {mode!r} is not one of {MODES}")
        if cache_files < 1:
            raise Hdf5Error(f"cache_files must be >= 1, got {cache_files}")
        tables = IndexTables.load(index_dir)
        self.mode, self.cache_files = mode, cache_files
        self._file_id, self._start, self._length = (tables.segments[k] for k in ("file_id", "start", "length"))
        if not len(self._start):
            raise IndexFolderError(f"{index_dir}: the index holds no segments")
        self._paths = tuple(f.path for f in tables.files)
        self._sources = {
            fid: tuple(RowSource.of(entry.path, entry.datasets[segment_path(c)]) for c in SEGMENT_COLUMNS)
            for fid, entry in enumerate(tables.files) if entry.kind == "segments"
        }  # fmt: skip
        self._points = {fid: tables.files[fid].rows for fid in self._sources}
        self._handles = FileHandles()
        self._cache: OrderedDict[int, tuple[np.ndarray, ...]] = OrderedDict()
        self.loads = 0  # whole-file loads so far (preload and LRU misses)
        if mode == "preload_all":
            for fid in self._sources:
                self._cache[fid] = self._load(fid)

    def __len__(self) -> int:
        return len(self._start)

    @property
    def cached_files(self) -> tuple[str, ...]:
        """Files held in memory, least recently used first."""
        return tuple(self._paths[fid] for fid in self._cache)

    def _load(self, fid: int) -> tuple[np.ndarray, ...]:
        """A whole file's columns, one contiguous read each."""
        columns = []
        for source in self._sources[fid]:
            out = np.empty(self._points[fid], dtype=source.dtype)
            read_span(self._handles, source, 0, out)
            columns.append(out)
        self.loads += 1
        return tuple(columns)

    def _columns(self, fid: int) -> tuple[np.ndarray, ...]:
        if fid in self._cache:
            self._cache.move_to_end(fid)
            return self._cache[fid]
        columns = self._load(fid)
        self._cache[fid] = columns
        while len(self._cache) > self.cache_files:
            self._cache.popitem(last=False)
        return columns

    def __getitem__(self, i: int) -> Segment:
        fid, start, length = int(self._file_id[i]), int(self._start[i]), int(self._length[i])
        if self.mode == "on_demand":
            columns = []
            for source in self._sources[fid]:
                out = np.empty(length, dtype=source.dtype)
                read_span(self._handles, source, start, out)
                columns.append(out)
        else:
            columns = [c[start:start + length].copy() for c in self._columns(fid)]
        x, y, z, classification = columns
        return Segment(x, y, z, classification, file=self._paths[fid], start=start)

    def epoch_order(self, seed: int | None = None) -> np.ndarray:
        """A shuffle of every segment across all files; in `lru` mode files come in groups of `cache_files`,
        each group's segments shuffled together, so every file is loaded once per epoch."""
        rng = np.random.default_rng(seed)
        if self.mode != "lru":
            return rng.permutation(len(self))
        return self.grouped_order(rng.permutation(np.unique(self._file_id)), rng)

    @property
    def file_ids(self) -> np.ndarray:
        """The file of every segment (an index into the index's files)."""
        return self._file_id

    def grouped_order(self, files: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The segments of `files`, in that file order, `cache_files` files at a time, each group shuffled."""
        groups = [files[i:i + self.cache_files] for i in range(0, len(files), self.cache_files)]
        parts = [rng.permutation(np.flatnonzero(np.isin(self._file_id, g))) for g in groups]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def close(self) -> None:
        self._handles.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without handles; a preloaded dataset keeps its arrays, an LRU one starts empty."""
        state = dict(self.__dict__)
        state["_handles"] = FileHandles()
        if self.mode == "lru":
            state["_cache"] = OrderedDict()
        return state
