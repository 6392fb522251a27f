"""Compaction: the partly filled data, video and episodes files an append leaves, merged up to the packing limits.

Every append puts its episodes in new files after the last ones (a committed file is never changed in place),
so a year of nightly runs leaves hundreds of small files per kind. Compaction plans the files again with the
packing rule (`packing.plan_files`, the dataset's own limits from info.json), with each existing file as the
unit, so episodes never move between files apart from their neighbours:

- data: the row groups of the files that merge are copied one after another (one row group in memory);
- videos: the mp4s that merge are joined by packet copy (`video_concat.concat_videos`, no re-encoding); each
  episode's from/to_timestamp moves by where its old file starts in the new one;
- meta/episodes: every row's file and timestamp references are rewritten, the rows packed the same way.

A file that stays alone keeps its bytes (hard link, renamed if its number changes). Statistics, tasks,
info.json, quality.json and the commit record do not change (the episodes, frames and sources are the same).
The new version is built beside the dataset and swapped in as a commit is (`storage.swap`), under the
dataset's lock: a crash at any point leaves the old dataset or the new one, and a rerun finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PATH, recover_dataset
from dataprep.lerobot.committed import LINKED_FOLDERS, read_committed
from dataprep.lerobot.layout import data_file, episodes_file, video_file
from dataprep.lerobot.packing import FileRef, plan_files
from dataprep.lerobot.video_concat import concat_videos
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.lock import dataset_folder_lock_path, output_lock
from dataprep.storage.markers import fsync_tree
from dataprep.storage.swap import discard_tmp, link_or_copy, swap_into_place, tmp_folder

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True)
class CompactionSummary:
    """Files per kind before and after (data, each camera, meta/episodes); `changed` False: nothing to do."""

    root: Path
    before: dict[str, int]
    after: dict[str, int]
    changed: bool


def partly_filled_files(root: Path) -> int:
    """How many files (all kinds) compaction would merge away: what `compact_after_files` is compared with."""
    plan = _Plan.of(Path(root))
    return sum(before - after for before, after in zip(plan.before().values(), plan.after().values()))


def compact_dataset(root: Path) -> CompactionSummary:
    """Merge the dataset's partly filled files; the dataset changes only once the new version is complete."""
    root = Path(root)
    with output_lock(dataset_folder_lock_path(root), f"dataset {root}"):
        return compact_unlocked(root)


def compact_unlocked(root: Path) -> CompactionSummary:
    """`compact_dataset` for a caller that holds the dataset's lock already (an append run)."""
    root = Path(root)
    recover_dataset(root)
    plan = _Plan.of(root)
    before, after = plan.before(), plan.after()
    if before == after:
        logger.info("%s: nothing to compact (%s)", root, before)
        return CompactionSummary(root, before, after, changed=False)
    tmp = tmp_folder(root)
    discard_tmp(root, COMMIT_PATH)  # a crashed compaction's or commit's leftover
    tmp.mkdir(parents=True)
    try:
        plan.write(tmp)
    except BaseException:
        discard_tmp(root, COMMIT_PATH)
        raise
    swap_into_place(tmp, root)
    logger.info("compacted %s: %s files -> %s", root, before, after)
    return CompactionSummary(root, before, after, changed=True)


def _sources(rows: pa.Table, prefix: str) -> list[FileRef]:
    """The distinct files of one kind, in dataset order (episodes are numbered in file order)."""
    refs = zip(rows[f"{prefix}/chunk_index"].to_pylist(), rows[f"{prefix}/file_index"].to_pylist())
    return list(dict.fromkeys(refs))


@dataclass
class _Plan:
    root: Path
    rows: pa.Table  # every meta/episodes row, in episode order
    kinds: dict[str, tuple[list[FileRef], list[FileRef]]]  # prefix -> (old files, their new place)
    video_keys: list[str]
    data_limit_mb: float
    chunks_size: int

    @classmethod
    def of(cls, root: Path) -> _Plan:
        base = read_committed(root)
        info = base.info
        files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
        try:
            rows = pa.concat_tables([pq.read_table(path) for path in files])
        except (OSError, ValueError, pa.ArrowException) as err:
            raise DataprepError(f"{root}: cannot read meta/episodes: {err}") from err
        if rows.num_rows != base.episode_count:
            raise DataprepError(f"{root}: meta/episodes holds {rows.num_rows} rows, {COMMIT_PATH} says "
                                f"{base.episode_count} episodes")
        kinds: dict[str, tuple[list[FileRef], list[FileRef]]] = {}
        paths: dict[str, Callable[[FileRef], str]] = {"data": lambda ref: data_file(*ref),
                                                       "meta/episodes": lambda ref: episodes_file(*ref)}
        for key in info.video_keys:
            paths[f"videos/{key}"] = lambda ref, key=key: video_file(key, *ref)  # type: ignore[misc]
        limits = {"data": info.data_files_size_in_mb, "meta/episodes": info.data_files_size_in_mb,
                  **{f"videos/{key}": info.video_files_size_in_mb for key in info.video_keys}}
        for prefix, path_of in paths.items():
            old = _sources(rows, prefix)
            sizes = [(root / path_of(ref)).stat().st_size for ref in old]
            kinds[prefix] = (old, plan_files(sizes, limits[prefix], (0, 0), info.chunks_size))
        return cls(root, rows, kinds, info.video_keys, info.data_files_size_in_mb, info.chunks_size)

    def before(self) -> dict[str, int]:
        return {prefix: len(old) for prefix, (old, _) in self.kinds.items()}

    def after(self) -> dict[str, int]:
        return {prefix: len(set(new)) for prefix, (_, new) in self.kinds.items()}

    def write(self, out: Path) -> None:
        for path in sorted(self.root.rglob("*")):  # info, stats, tasks, quality: unchanged (commit.json last)
            relative = path.relative_to(self.root)
            if path.is_file() and str(relative) != COMMIT_PATH and not any(
                    relative.is_relative_to(folder) for folder in LINKED_FOLDERS):
                link_or_copy(path, out / relative)
        rows = self._write_data(out)
        for key in self.video_keys:
            rows = self._write_videos(out, key, rows)
        self._write_episodes(out, rows)
        fsync_tree(out)
        crash_point("compact-before-commit-record")
        link_or_copy(self.root / COMMIT_PATH, out / COMMIT_PATH)  # same record: written last, it marks completion
        crash_point("compact-recorded")

    def _moved(self, rows: pa.Table, prefix: str) -> tuple[dict[FileRef, FileRef], pa.Table]:
        old, new = self.kinds[prefix]
        where = dict(zip(old, new))
        refs = list(zip(rows[f"{prefix}/chunk_index"].to_pylist(), rows[f"{prefix}/file_index"].to_pylist()))
        rows = _set(rows, f"{prefix}/chunk_index", [where[r][0] for r in refs])
        return where, _set(rows, f"{prefix}/file_index", [where[r][1] for r in refs])

    def _write_data(self, out: Path) -> pa.Table:
        where, rows = self._moved(self.rows, "data")
        for dest, sources in _groups(where).items():
            target = out / data_file(*dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            if len(sources) == 1:
                link_or_copy(self.root / data_file(*sources[0]), target)
                continue
            first = pq.ParquetFile(self.root / data_file(*sources[0]))
            with pq.ParquetWriter(target, first.schema_arrow, compression="snappy") as writer:
                for ref in sources:
                    parquet = pq.ParquetFile(self.root / data_file(*ref))
                    for group in range(parquet.num_row_groups):
                        table = parquet.read_row_group(group)
                        writer.write_table(table, row_group_size=max(table.num_rows, 1))
            crash_point("compact-data-file")
        return rows

    def _write_videos(self, out: Path, key: str, rows: pa.Table) -> pa.Table:
        prefix = f"videos/{key}"
        old_refs = list(zip(rows[f"{prefix}/chunk_index"].to_pylist(), rows[f"{prefix}/file_index"].to_pylist()))
        where, rows = self._moved(rows, prefix)
        shift: dict[FileRef, float] = {}
        for dest, sources in _groups(where).items():
            target = out / video_file(key, *dest)
            if len(sources) == 1:
                link_or_copy(self.root / video_file(key, *sources[0]), target)
                shift[sources[0]] = 0.0
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            spans = concat_videos([self.root / video_file(key, *ref) for ref in sources], target)
            shift.update({ref: span.from_timestamp for ref, span in zip(sources, spans)})
            crash_point("compact-video-file")
        for name in ("from_timestamp", "to_timestamp"):
            column = f"{prefix}/{name}"
            rows = _set(rows, column, [t + shift[ref] for t, ref in zip(rows[column].to_pylist(), old_refs)])
        return rows

    def _write_episodes(self, out: Path, rows: pa.Table) -> None:
        _, rows = self._moved(rows, "meta/episodes")
        refs = list(zip(rows["meta/episodes/chunk_index"].to_pylist(), rows["meta/episodes/file_index"].to_pylist()))
        start = 0
        for ref in dict.fromkeys(refs):
            count = refs.count(ref)
            target = out / episodes_file(*ref)
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(rows.slice(start, count), target, compression="snappy")
            start += count
        crash_point("compact-meta")


def _groups(where: dict[FileRef, FileRef]) -> dict[FileRef, list[FileRef]]:
    groups: dict[FileRef, list[FileRef]] = {}
    for old, new in where.items():
        groups.setdefault(new, []).append(old)
    return groups


def _set(table: pa.Table, name: str, values: Sequence[object]) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, pa.array(values, type=field.type))
