"""The index file: flat columns over every source file, written once, read whole by each reader.

Layout of `index.h5` (every dataset contiguous and uncompressed, written to a temp name and renamed):
  files/{path, kind, size, mtime_ns, rows, datasets, cache}   one row per indexed file (datasets: JSON
                                                              shapes, dtypes, chunking, byte offsets)
  samples/{file_id, row, next_row, episode, flags}             one row per replay row; next_row -1: none
  samples/{joint, action, reward, not_done}                    what training needs without opening sources
  episodes/{file_id, start, length}                            start is a row of that file
  segments/{file_id, start, length}                            start and length in points
  stats/<column>/{count, mean, m2, min, max}                   mergeable across files
  offsets/<file_id>/<image dataset>                            byte offset of each row, for images stored
                                                              one sample per unfiltered chunk
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from dataprep.hdf5.errors import IndexFolderError
from dataprep.hdf5.layout import FIRST, FORMAT_VERSION, INDEX_NAME, LAST, TERMINAL, TIMEOUT
from dataprep.hdf5.scan import DatasetInfo, FileScan, ReplayColumns
from dataprep.hdf5.stats import Moments, merge_all
from dataprep.storage import atomic_path

STRING = h5py.string_dtype()


@dataclass(frozen=True, eq=False)
class ReplayRows:
    """The flat per-row columns of one replay file, derived from its terminal and timeout flags."""

    next_row: np.ndarray
    flags: np.ndarray
    episode: np.ndarray  # episode number within the file
    episode_start: np.ndarray
    episode_length: np.ndarray

    @classmethod
    def of(cls, columns: ReplayColumns) -> ReplayRows:
        n = len(columns.terminal)
        last = columns.terminal | columns.timeout
        last[-1] = True  # the file's end cuts its last episode off
        first = np.zeros(n, dtype=bool)
        first[0] = True
        first[1:] = last[:-1]
        flags = (FIRST * first + LAST * last + TERMINAL * columns.terminal + TIMEOUT * columns.timeout).astype(np.uint8)
        starts = np.flatnonzero(first)
        return cls(next_row=np.where(last, -1, np.arange(1, n + 1)).astype(np.int64), flags=flags,
                   episode=(np.cumsum(first) - 1).astype(np.int32), episode_start=starts.astype(np.int64),
                   episode_length=np.diff(np.append(starts, n)).astype(np.int64))


@dataclass(frozen=True)
class IndexCounts:
    samples: int  # replay rows
    episodes: int
    pairs: int  # (i, i+1) pairs inside one episode
    transitions: int  # pairs plus terminal rows: what ReplaySampler draws from
    segments: int


def _concat(parts: Sequence[np.ndarray], dtype: type, tail: tuple[int, ...] = ()) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty((0, *tail), dtype=dtype)


def write_index_file(root: Path, scans: Sequence[FileScan]) -> IndexCounts:
    """Write `root/index.h5` from scans already checked to agree on column widths."""
    samples: dict[str, list[np.ndarray]] = {k: [] for k in ("file_id", "row", "next_row", "episode", "flags",
                                                            "joint", "action", "reward", "not_done")}
    episodes: dict[str, list[np.ndarray]] = {"file_id": [], "start": [], "length": []}
    segments: dict[str, list[np.ndarray]] = {"file_id": [], "start": [], "length": []}
    episode_base = 0
    for file_id, scan in enumerate(scans):
        if scan.replay is not None:
            cols, rows = scan.replay, ReplayRows.of(scan.replay)
            n = len(cols.terminal)
            for key, value in (("file_id", np.full(n, file_id)), ("row", np.arange(n)), ("next_row", rows.next_row),
                               ("episode", rows.episode + episode_base), ("flags", rows.flags), ("joint", cols.joint),
                               ("action", cols.action), ("reward", cols.reward), ("not_done", ~cols.terminal)):
                samples[key].append(value)
            episodes["file_id"].append(np.full(len(rows.episode_start), file_id))
            episodes["start"].append(rows.episode_start)
            episodes["length"].append(rows.episode_length)
            episode_base += len(rows.episode_start)
        if scan.segments is not None:
            segments["file_id"].append(np.full(len(scan.segments.start), file_id))
            segments["start"].append(scan.segments.start)
            segments["length"].append(scan.segments.length)
    dtypes = {"file_id": np.int32, "row": np.int64, "next_row": np.int64, "episode": np.int32, "flags": np.uint8,
              "joint": np.float32, "action": np.float32, "reward": np.float32, "not_done": np.uint8,
              "start": np.int64, "length": np.int64}
    with atomic_path(root / INDEX_NAME) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        f.create_dataset("files/path", data=[s.identity.path for s in scans], dtype=STRING)
        f.create_dataset("files/kind", data=[s.kind for s in scans], dtype=STRING)
        f.create_dataset("files/size", data=np.array([s.identity.size for s in scans], dtype=np.int64))
        f.create_dataset("files/mtime_ns", data=np.array([s.identity.mtime_ns for s in scans], dtype=np.int64))
        f.create_dataset("files/rows", data=np.array([s.rows for s in scans], dtype=np.int64))
        f.create_dataset("files/datasets", data=[s.datasets_json() for s in scans], dtype=STRING)
        f.create_dataset("files/cache", data=[s.cache or "" for s in scans], dtype=STRING)
        for group, table in (("samples", samples), ("episodes", episodes), ("segments", segments)):
            for key, parts in table.items():
                tail = (0,) if key in ("joint", "action") else ()
                f.create_dataset(f"{group}/{key}", data=_concat(parts, dtypes[key], tail))
        for file_id, scan in enumerate(scans):
            for name, offsets in scan.offsets.items():
                f.create_dataset(f"offsets/{file_id}/{name}", data=offsets)
        for name, moments in merged_stats(scans).items():
            for key, value in moments.arrays().items():
                f.create_dataset(f"stats/{name}/{key}", data=value)
    next_row = np.concatenate(samples["next_row"]) if samples["next_row"] else np.empty(0)
    terminal = sum(int((~parts).sum()) for parts in samples["not_done"])
    pairs = int((next_row >= 0).sum())
    return IndexCounts(samples=len(next_row), episodes=episode_base, pairs=pairs, transitions=pairs + terminal,
                       segments=sum(len(p) for p in segments["start"]))


def merged_stats(scans: Sequence[FileScan]) -> dict[str, Moments]:
    names = sorted({name for scan in scans for name in scan.stats})
    merged = {name: merge_all([scan.stats[name] for scan in scans if name in scan.stats]) for name in names}
    return {name: m for name, m in merged.items() if m is not None}


@dataclass(frozen=True)
class FileEntry:
    path: str
    kind: str
    rows: int
    datasets: dict[str, DatasetInfo]
    cache: str | None


@dataclass(frozen=True, eq=False)
class IndexTables:
    """The whole index in memory as flat numpy columns (a few hundred MB for millions of samples)."""

    files: tuple[FileEntry, ...]
    samples: dict[str, np.ndarray]
    episodes: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]
    stats: dict[str, Moments]
    offsets: dict[int, dict[str, np.ndarray]]  # file id -> image dataset -> byte offset of each row

    @classmethod
    def load(cls, index_dir: Path | str) -> IndexTables:
        path = Path(index_dir) / INDEX_NAME
        if not path.is_file():
            raise IndexFolderError(f"{path} does not exist; build it with `python -m flows.hdf5_index --config ...`")
        with h5py.File(path, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION:
                raise IndexFolderError(f"{path}: format version {f.attrs.get('format_version')}, this reader "
                                       f"reads {FORMAT_VERSION}; rebuild the index")
            g = f["files"]
            files = tuple(
                FileEntry(p.decode(), k.decode(), int(r),
                          {d["name"]: DatasetInfo.from_dict(d) for d in json.loads(j)}, c.decode() or None)
                for p, k, r, j, c in zip(g["path"][()], g["kind"][()], g["rows"][()], g["datasets"][()], g["cache"][()])
            )  # fmt: skip
            samples, episodes, segments = (
                {key: ds[()] for key, ds in f[group].items()} for group in ("samples", "episodes", "segments"))
            stats = {name: Moments.from_arrays({k: v[()] for k, v in group.items()})
                     for name, group in f.get("stats", {}).items()}
            offsets = {int(file_id): _datasets_below(group) for file_id, group in f.get("offsets", {}).items()}
        return cls(files, samples, episodes, segments, stats, offsets)


def _datasets_below(group: h5py.Group) -> dict[str, np.ndarray]:
    """Every dataset under `group`, read whole, by its path relative to the group."""
    found: dict[str, np.ndarray] = {}
    group.visititems(lambda name, node: found.__setitem__(name, node[()]) if isinstance(node, h5py.Dataset) else None)
    return found
