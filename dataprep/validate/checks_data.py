"""Checks of the data parquet files: readable, the columns info.json promises, and every episode's rows.

Only the five bookkeeping columns are read (footers and a few int columns), so a long dataset is checked in
a moment; feature values are covered by the statistics checks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.arrow_arrays import column_numpy, numpy_array
from dataprep.lerobot.layout import DEFAULT_FEATURES
from dataprep.validate.meta import DatasetMeta, EpisodeEntry
from dataprep.validate.report import Finding

# lerobot's default `tolerance_s`: how far a timestamp may be from frame_index / fps.
TIMESTAMP_TOLERANCE_S = 1e-4


def check_data(meta: DatasetMeta, found: list[Finding]) -> int | None:
    """Check every data file the episodes name; returns the rows on disk (None if a file was unreadable)."""
    by_file: dict[tuple[int, int], list[EpisodeEntry]] = defaultdict(list)
    for ep in meta.episodes:
        by_file[(ep.data_chunk, ep.data_file)].append(ep)
    columns = [key for key, ft in meta.features.items() if ft.dtype != "video"]
    total: int | None = 0
    indices: list[np.ndarray] = []
    for chunk, file in sorted(by_file):
        relative = meta.data_file(chunk, file)
        table = _read_bookkeeping(meta, relative, columns, by_file[(chunk, file)], found)
        if table is None:
            total = None
            continue
        if total is not None:
            total += table.num_rows
            indices.append(column_numpy(table["index"]))
        episode_of_row = column_numpy(table["episode_index"])
        for ep in by_file[(chunk, file)]:
            rows = table.take(numpy_array(np.flatnonzero(episode_of_row == ep.index)))  # pc.equal imports pandas
            found += _episode_rows(meta, relative, ep, rows)
    found += _unreferenced_files(meta, {meta.data_file(chunk, file) for chunk, file in by_file})
    if total is not None and indices:
        index = np.concatenate(indices)
        wrong = np.flatnonzero(index != np.arange(len(index)))
        if wrong.size:
            found.append(
                Finding(
                    "data.index",
                    meta.data_file(*sorted(by_file)[0]),
                    f"the global index is not 0..{len(index) - 1} in file order: row {wrong[0]} holds "
                    f"{index[wrong[0]]}",
                    feature="index",
                )
            )
    return total


def _unreferenced_files(meta: DatasetMeta, referenced: set[str]) -> list[Finding]:
    """lerobot loads every parquet under data/ as one table: a file no episode names (a leftover of a
    crashed pack, a stray copy) shifts the position of every row after it away from its `index`."""
    on_disk = sorted(str(path.relative_to(meta.root)) for path in (meta.root / "data").glob("*/*.parquet"))
    return [
        Finding("data.files", relative, "no episode points to it, but lerobot loads every file under data/")
        for relative in on_disk
        if relative not in referenced
    ]


def _read_bookkeeping(
    meta: DatasetMeta, relative: str, columns: list[str], episodes: list[EpisodeEntry], found: list[Finding]
) -> pa.Table | None:
    path = meta.root / relative
    first = episodes[0].index
    if not path.is_file():
        found.append(
            Finding(
                "data.files", relative, f"missing (episodes {[e.index for e in episodes]} point to it)", first
            )
        )
        return None
    try:
        parquet = pq.ParquetFile(path)  # reads the footer: a file cut short fails here
        names = parquet.schema_arrow.names
        missing = [c for c in columns if c not in names]
        if missing:
            found.append(
                Finding(
                    "data.schema",
                    relative,
                    f"lacks the columns {missing} that info.json declares",
                    feature=missing[0],
                )
            )
        present = [c for c in DEFAULT_FEATURES if c in names]
        if len(present) < len(DEFAULT_FEATURES):
            return None
        table = parquet.read(columns=present)
    except (OSError, pa.ArrowException) as err:
        found.append(
            Finding("data.files", relative, f"unreadable parquet (truncated or corrupt?): {err}", first)
        )
        return None
    if table.num_rows != parquet.metadata.num_rows:
        found.append(
            Finding(
                "data.files",
                relative,
                f"footer says {parquet.metadata.num_rows} rows, read {table.num_rows}",
                first,
            )
        )
    return table


def _episode_rows(meta: DatasetMeta, relative: str, ep: EpisodeEntry, rows: pa.Table) -> Iterator[Finding]:
    """The episode's rows: `length` of them, global index start..end-1, frame_index 0.., timestamp k/fps."""
    if rows.num_rows != ep.length:
        yield Finding(
            "data.rows",
            relative,
            f"{rows.num_rows} rows, meta/episodes says length {ep.length}",
            ep.index,
            "episode_index",
        )
        return
    index = column_numpy(rows["index"])
    if not np.array_equal(index, np.arange(ep.start, ep.end)):
        yield Finding(
            "data.index",
            relative,
            f"index runs {index[0]}..{index[-1]} (gaps or disorder), expected {ep.start}..{ep.end - 1}",
            ep.index,
            "index",
        )
    frame_index = column_numpy(rows["frame_index"])
    if not np.array_equal(frame_index, np.arange(ep.length)):
        bad = int(np.flatnonzero(frame_index != np.arange(ep.length))[0])
        yield Finding(
            "data.frame_index",
            relative,
            f"frame_index is {frame_index[bad]} at row {bad} of the episode",
            ep.index,
            "frame_index",
        )
    error = np.abs(column_numpy(rows["timestamp"]).astype(np.float64) - np.arange(ep.length) / meta.fps)
    if error.max(initial=0.0) > TIMESTAMP_TOLERANCE_S:
        bad = int(np.argmax(error))
        yield Finding(
            "data.timestamp",
            relative,
            f"timestamp of frame {bad} is {error[bad]:.6f} s off frame_index/fps "
            f"(tolerance {TIMESTAMP_TOLERANCE_S} s)",
            ep.index,
            "timestamp",
        )
    if meta.tasks is not None:
        unknown = sorted(set(rows["task_index"].to_pylist()) - set(meta.tasks.values()))
        if unknown:
            yield Finding(
                "tasks.referenced",
                relative,
                f"task_index {unknown} is not in tasks.parquet",
                ep.index,
                "task_index",
            )
