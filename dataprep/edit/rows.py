"""Writes the new data parquets of an edit: the source rows of each take, renumbered, one row group per take.

Rows are located by the `index` column (global frame number) of the source file, read once per file; only
the row groups holding a take's rows are read, so memory stays one episode. The renumbered columns are
`timestamp` (frame_index / fps, float32), `frame_index`, `episode_index`, `index` and `task_index`; every
other column is copied as it is, so image bytes and vectors are never decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.edit.plan import Take
from dataprep.edit.source import EditError
from dataprep.lerobot.packing import FileRef
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.swap import link_or_copy


@dataclass(frozen=True)
class Numbered:
    """A take with its place in the new dataset."""

    take: Take
    episode: int
    first_frame: int  # new global index of its first row
    data: FileRef
    task_map: Mapping[int, int]  # source task_index -> new (identity for one source)


class _SourceFile:
    """One source data parquet: where each global index sits, and row groups read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
            self.index = self.file.read(columns=["index"]).column(0).to_numpy()
        except (OSError, pa.ArrowException, KeyError) as err:
            raise EditError(f"{path}: cannot read the data file: {err}") from err
        sizes = [self.file.metadata.row_group(i).num_rows for i in range(self.file.num_row_groups)]
        self.group_starts = np.cumsum([0, *sizes])

    def rows(self, first: int, count: int) -> pa.Table:
        """The `count` rows whose global index starts at `first` (they must be contiguous)."""
        at = int(np.searchsorted(self.index, first))
        if at + count > len(self.index) or not np.array_equal(self.index[at:at + count],
                                                              np.arange(first, first + count)):
            raise EditError(f"{self.path}: rows with index {first}..{first + count - 1} are not all there, in order")
        groups = range(int(np.searchsorted(self.group_starts, at, side="right")) - 1,
                       int(np.searchsorted(self.group_starts, at + count, side="left")))
        table = self.file.read_row_groups(list(groups))
        return table.slice(at - int(self.group_starts[groups.start]), count)


def _renumbered(table: pa.Table, item: Numbered, fps: int) -> pa.Table:
    n = table.num_rows
    frames = np.arange(n, dtype=np.int64)
    old_tasks = table.column("task_index").to_numpy()
    new_tasks = np.array([item.task_map.get(int(t), int(t)) for t in old_tasks], dtype=np.int64)
    values = {
        "timestamp": (frames / fps).astype(np.float32),
        "frame_index": frames,
        "episode_index": np.full(n, item.episode, dtype=np.int64),
        "index": np.arange(item.first_frame, item.first_frame + n, dtype=np.int64),
        "task_index": new_tasks,
    }
    for name, value in values.items():
        position = table.schema.get_field_index(name)
        field = table.schema.field(position)
        table = table.set_column(position, field, pc.cast(pa.array(value), field.type))
    return table


def unchanged(items: Sequence[Numbered], episode_counts: Mapping[tuple[int, FileRef], int]) -> bool:
    """The new file would equal its source file byte for byte in content: link it instead."""
    take0 = items[0].take
    same_source = all(i.take.source is take0.source and i.take.episode.data == take0.episode.data for i in items)
    return (same_source and len(items) == episode_counts[(id(take0.source), take0.episode.data)]
            and all(i.take.whole and i.episode == i.take.episode.index
                    and i.first_frame == i.take.episode.first_frame and all(k == v for k, v in i.task_map.items())
                    for i in items))


def write_data_files(out: Path, numbered: Sequence[Numbered]) -> list[FileRef]:
    """Write (or link) every new data file under `out`; returns the files that were linked."""
    counts: dict[tuple[int, FileRef], int] = {}  # episodes per source file
    for source in {id(i.take.source): i.take.source for i in numbered}.values():
        for ep in source.episodes:
            counts[(id(source), ep.data)] = counts.get((id(source), ep.data), 0) + 1
    linked: list[FileRef] = []
    opened: dict[Path, _SourceFile] = {}
    for ref, group in groupby(numbered, key=lambda i: i.data):
        items = list(group)
        source = items[0].take.source
        dest = out / source.info.data_file(*ref)
        if unchanged(items, counts):
            link_or_copy(source.root / source.info.data_file(*items[0].take.episode.data), dest)
            linked.append(ref)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        writer: pq.ParquetWriter | None = None
        try:
            for item in items:
                take = item.take
                path = take.source.root / take.source.info.data_file(*take.episode.data)
                if path not in opened:
                    opened.clear()  # one source file open at a time
                    opened[path] = _SourceFile(path)
                table = _renumbered(opened[path].rows(take.episode.first_frame + take.start, take.length),
                                    item, take.source.info.fps)
                if writer is None:
                    writer = pq.ParquetWriter(dest, table.schema, compression="snappy")
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
        finally:
            if writer is not None:
                writer.close()
        crash_point("edit-data-file")
    return linked
