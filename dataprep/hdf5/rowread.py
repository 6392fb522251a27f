"""Reading rows of source datasets fast, from any process, without h5py fancy indexing.

Where a dataset's rows sit at known byte offsets (contiguous and unfiltered, or one sample per unfiltered
chunk with stored chunk offsets) a row is one `os.preadv` straight into the caller's array; otherwise it is
an h5py slice of a contiguous run (`read_direct`), never a list of indices (about 10 ms per index on chunked
data). Handles are opened lazily and belong to the process that opened them: after a fork (DataLoader
workers) they are dropped and reopened, and pickling carries no handle.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from dataprep.hdf5.errors import Hdf5Error
from dataprep.hdf5.scan import DatasetInfo
from dataprep.hdf5.sources import open_source


@dataclass(frozen=True, eq=False)
class RowSource:
    """Where the rows of one dataset are: by byte offsets when possible, else through h5py."""

    path: str
    dataset: str
    row_shape: tuple[int, ...]
    dtype: np.dtype
    base_offset: int | None = None  # contiguous: row i at base_offset + i * row_bytes
    chunk_offsets: np.ndarray | None = None  # one sample per chunk: row i at chunk_offsets[i]

    @classmethod
    def of(cls, path: str, info: DatasetInfo) -> RowSource:
        return cls(path, info.name, info.row_shape, np.dtype(info.dtype), info.offset)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape)) * self.dtype.itemsize

    def byte_offset(self, row: int) -> int | None:
        if self.chunk_offsets is not None:
            return int(self.chunk_offsets[row])
        if self.base_offset is not None:
            return self.base_offset + row * self.row_bytes
        return None


class FileHandles:
    """Per-process file descriptors and h5py files, opened on first use, closed by `close()`."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()  # a prefetch thread and the caller may open files at once
        self._fds: dict[str, int] = {}
        self._h5: dict[str, h5py.File] = {}

    def _check_process(self) -> None:
        if os.getpid() != self._pid:  # forked: the parent's handles are not ours to use or close
            self._pid, self._lock, self._fds, self._h5 = os.getpid(), threading.Lock(), {}, {}

    def fd(self, path: str) -> int:
        self._check_process()
        with self._lock:
            if path not in self._fds:
                try:
                    self._fds[path] = os.open(path, os.O_RDONLY)
                except OSError as err:
                    raise Hdf5Error(f"{path}: cannot open: {err.strerror}") from err
            return self._fds[path]

    def h5(self, path: str) -> h5py.File:
        self._check_process()
        with self._lock:
            if path not in self._h5:
                self._h5[path] = open_source(path)
            return self._h5[path]

    def close(self) -> None:
        self._check_process()
        for fd in self._fds.values():
            os.close(fd)
        for f in self._h5.values():
            f.close()
        self._fds, self._h5 = {}, {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


def read_rows(handles: FileHandles, source: RowSource, rows: np.ndarray, out: np.ndarray,
              positions: np.ndarray | None = None) -> None:
    """out[positions[k]] = row rows[k] of the dataset (positions default to k), straight into `out`.

    Rows are visited in sorted order so the disk reads forward.
    """
    positions = np.arange(len(rows)) if positions is None else positions
    order = np.argsort(rows, kind="stable")
    if len(rows) and source.byte_offset(0) is not None:
        fd, size = handles.fd(source.path), source.row_bytes
        for k in order:
            view = memoryview(out[positions[k]]).cast("B")
            if os.preadv(fd, [view], source.byte_offset(int(rows[k]))) != size:  # type: ignore[arg-type]
                raise Hdf5Error(f"{source.path}: short read of dataset {source.dataset!r} row {rows[k]}")
        return
    ds = handles.h5(source.path)[source.dataset]
    for k in order:
        row, at = int(rows[k]), int(positions[k])
        ds.read_direct(out, np.s_[row:row + 1], np.s_[at:at + 1])


def read_span(handles: FileHandles, source: RowSource, start: int, out: np.ndarray) -> None:
    """out = rows [start, start + len(out)) of a dataset, one contiguous read."""
    base = source.byte_offset(start) if source.chunk_offsets is None else None
    if base is not None:
        size = len(out) * source.row_bytes
        if size and os.preadv(handles.fd(source.path), [out.data.cast("B")], base) != size:
            raise Hdf5Error(f"{source.path}: short read of dataset {source.dataset!r} rows {start}+{len(out)}")
        return
    handles.h5(source.path)[source.dataset].read_direct(out, np.s_[start:start + len(out)], np.s_[0:len(out)])
