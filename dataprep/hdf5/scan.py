"""Scanning one source file: validate it, read the small columns the index keeps, compute its statistics.

Images are never read here, only their shape, dtype and storage (chunking, filters, byte offset), so a
scan costs about the size of the small columns whatever the images weigh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import h5py
import numpy as np

from dataprep.config.hdf5 import Hdf5SourceSpec
from dataprep.hdf5.errors import Hdf5Error
from dataprep.hdf5.layout import (
    REPLAY_COLUMNS,
    REPLAY_IMAGES,
    REPLAY_STATS,
    REPLAY_TIMEOUT,
    SEGMENT_COLUMNS,
    SEGMENT_STATS,
    image_path,
    segment_path,
)
from dataprep.hdf5.sources import FileIdentity, open_source
from dataprep.hdf5.stats import Moments


@dataclass(frozen=True)
class DatasetInfo:
    """Shape and storage of one source dataset, kept in the index's per-file table."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...] | None
    compression: str | None
    offset: int | None  # byte offset of a contiguous unfiltered dataset: its rows can be read with pread
    layout: str = ""  # images: "HWC" or "CHW"

    @classmethod
    def of(cls, ds: h5py.Dataset, layout: str = "") -> DatasetInfo:
        contiguous = ds.chunks is None and ds.compression is None and not ds.id.get_create_plist().get_nfilters()
        offset = ds.id.get_offset() if contiguous else None
        return cls(ds.name.lstrip("/"), tuple(ds.shape), ds.dtype.str, ds.chunks, ds.compression, offset, layout)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetInfo:
        chunks = d["chunks"]
        return cls(d["name"], tuple(d["shape"]), d["dtype"], tuple(chunks) if chunks else None,
                   d["compression"], d["offset"], d["layout"])

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self.shape[1:]


@dataclass(frozen=True, eq=False)
class ReplayColumns:
    joint: np.ndarray  # (N, J) float32
    action: np.ndarray  # (N, A) float32
    reward: np.ndarray  # (N,) float32
    terminal: np.ndarray  # (N,) bool
    timeout: np.ndarray  # (N,) bool, all False when the file has no timeout dataset


@dataclass(frozen=True, eq=False)
class SegmentColumns:
    start: np.ndarray  # (S,) int64, first point of each segment
    length: np.ndarray  # (S,) int64
    points: int


@dataclass(frozen=True, eq=False)
class FileScan:
    """Everything the index needs of one source file; stored per file so an unchanged file is not rescanned."""

    identity: FileIdentity
    kind: str
    datasets: tuple[DatasetInfo, ...]
    stats: Mapping[str, Moments]
    replay: ReplayColumns | None = None
    segments: SegmentColumns | None = None
    cache: str | None = None  # the resized-image file of a replay source, when configured
    offsets: Mapping[str, np.ndarray] = field(default_factory=dict)  # image dataset -> byte offset of each row
    key: str = ""  # name of the stored scan (and image cache) in the output folder
    reused: bool = field(default=False, compare=False)

    @property
    def rows(self) -> int:
        return len(self.replay.terminal) if self.replay is not None else self.segments.points  # type: ignore[union-attr]

    def datasets_json(self) -> str:
        return json.dumps([asdict(info) for info in self.datasets])

    def dataset(self, name: str) -> DatasetInfo:
        return next(info for info in self.datasets if info.name == name)


def _dataset(f: h5py.File, path: str, name: str) -> h5py.Dataset:
    node = f.get(name)
    if not isinstance(node, h5py.Dataset):
        raise Hdf5Error(f"{path}: missing dataset {name!r}" if node is None else f"{path}: {name!r} is not a dataset")
    return node


def _check_rows(path: str, ds: h5py.Dataset, rows: int, against: str) -> None:
    if ds.ndim == 0 or ds.shape[0] != rows:
        got = ds.shape[0] if ds.ndim else "no"
        raise Hdf5Error(f"{path}: length mismatch: dataset {ds.name.lstrip('/')!r} has {got} rows, "
                        f"{against!r} has {rows}")


def _read(path: str, ds: h5py.Dataset) -> np.ndarray:
    try:
        values: np.ndarray = ds[()]
        return values
    except (OSError, ValueError, TypeError) as err:
        raise Hdf5Error(f"{path}: cannot read dataset {ds.name.lstrip('/')!r}: {err}") from err


def chunk_offsets(ds: h5py.Dataset) -> np.ndarray | None:
    """Byte offset of each row of a dataset stored one row per unfiltered chunk; None for other layouts
    (or unwritten chunks), which are read through h5py instead."""
    if ds.chunks != (1, *ds.shape[1:]) or ds.id.get_create_plist().get_nfilters():
        return None
    offsets = np.full(ds.shape[0], -1, dtype=np.int64)

    def visit(info: h5py.h5d.StoreInfo) -> None:
        offsets[info.chunk_offset[0]] = info.byte_offset

    ds.id.chunk_iter(visit)
    return None if (offsets < 0).any() else offsets


def image_layout(path: str, ds: h5py.Dataset) -> str:
    """HWC when the last axis holds 3 channels, CHW when the second does; anything else is an error."""
    name = ds.name.lstrip("/")
    if ds.dtype != np.uint8:
        raise Hdf5Error(f"{path}: dataset {name!r} holds {ds.dtype}, images must be uint8")
    if ds.ndim == 4 and ds.shape[3] == 3:
        return "HWC"
    if ds.ndim == 4 and ds.shape[1] == 3:
        return "CHW"
    raise Hdf5Error(f"{path}: dataset {name!r} of shape {tuple(ds.shape)} is neither (N, H, W, 3) HWC "
                    "nor (N, 3, H, W) CHW")


def _vectors(path: str, ds: h5py.Dataset, ndim: int) -> np.ndarray:
    values = _read(path, ds)
    if ndim == 1 and values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != ndim:
        raise Hdf5Error(f"{path}: dataset {ds.name.lstrip('/')!r} has shape {values.shape}, expected {ndim}-D rows")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise Hdf5Error(f"{path}: dataset {ds.name.lstrip('/')!r} holds NaN or infinity")
    return values


def scan_replay(identity: FileIdentity) -> FileScan:
    path = identity.path
    with open_source(path) as f:
        terminal_ds = _dataset(f, path, "terminal")
        rows = terminal_ds.shape[0] if terminal_ds.ndim else 0
        if rows == 0:
            raise Hdf5Error(f"{path}: dataset 'terminal' holds no rows")
        infos, offsets = [], {}
        for camera in REPLAY_IMAGES:
            ds = _dataset(f, path, image_path(camera))
            _check_rows(path, ds, rows, "terminal")
            infos.append(DatasetInfo.of(ds, image_layout(path, ds)))
            if (found := chunk_offsets(ds)) is not None:
                offsets[ds.name.lstrip("/")] = found
        columns: dict[str, np.ndarray] = {}
        for name in (*REPLAY_COLUMNS, *([REPLAY_TIMEOUT] if REPLAY_TIMEOUT in f else [])):
            ds = _dataset(f, path, name)
            _check_rows(path, ds, rows, "terminal")
            infos.append(DatasetInfo.of(ds))
            columns[name] = _vectors(path, ds, 2 if name in ("joint", "action") else 1)
    timeout = columns.get(REPLAY_TIMEOUT, np.zeros(rows, dtype=bool))
    replay = ReplayColumns(
        joint=columns["joint"].astype(np.float32, copy=False), action=columns["action"].astype(np.float32, copy=False),
        reward=columns["reward"].astype(np.float32, copy=False), terminal=columns["terminal"].astype(bool),
        timeout=timeout.astype(bool))  # fmt: skip
    stats = {name: Moments.of(getattr(replay, name)) for name in REPLAY_STATS}
    return FileScan(identity, "replay", tuple(infos), stats, replay=replay, offsets=offsets)


def _segment_bounds(path: str, f: h5py.File, points: int, spec: Hdf5SourceSpec) -> tuple[np.ndarray, np.ndarray]:
    if spec.segment_size is not None:
        size = spec.segment_size
        count = points // size if spec.drop_last else -(-points // size)
        start = np.arange(count, dtype=np.int64) * size
        return start, np.minimum(size, points - start)
    name = spec.segment_dataset
    assert name is not None
    table = _read(path, _dataset(f, path, name))
    if table.ndim != 2 or table.shape[1] != 2 or table.dtype.kind not in "iu":
        raise Hdf5Error(f"{path}: dataset {name!r} must be integer (start, length) rows, "
                        f"got {table.dtype} {table.shape}")
    start, length = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    bad = np.flatnonzero((start < 0) | (length < 1) | (start + length > points))
    if len(bad):
        raise Hdf5Error(f"{path}: dataset {name!r} row {bad[0]} = ({start[bad[0]]}, {length[bad[0]]}) "
                        f"lies outside the {points} points")
    return start, length


def scan_segments(identity: FileIdentity, spec: Hdf5SourceSpec) -> FileScan:
    path = identity.path
    with open_source(path) as f:
        first = _dataset(f, path, segment_path(SEGMENT_COLUMNS[0]))
        points = first.shape[0] if first.ndim == 1 else -1
        infos, stats = [], {}
        for column in SEGMENT_COLUMNS:
            ds = _dataset(f, path, segment_path(column))
            if ds.ndim != 1:
                raise Hdf5Error(f"{path}: dataset {ds.name.lstrip('/')!r} has shape {ds.shape}, expected (N,)")
            _check_rows(path, ds, points, segment_path(SEGMENT_COLUMNS[0]))
            infos.append(DatasetInfo.of(ds))
            if column in SEGMENT_STATS and points:
                stats[column] = Moments.of(_vectors(path, ds, 1))
        start, length = _segment_bounds(path, f, points, spec)
    return FileScan(identity, "segments", tuple(infos), stats, segments=SegmentColumns(start, length, points))
