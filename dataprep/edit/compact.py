"""Compaction: the partly filled data, video and episodes files an append leaves, merged up to the packing limits.

Every append puts its episodes in new files after the last ones (a committed file is never changed in place),
so a year of nightly runs leaves hundreds of small files per kind. Compaction plans the files again with the
packing rule (`packing.plan_files`, the dataset's own limits from info.json), with each existing file as the
unit, so episodes never move between files apart from their neighbours. The plan needs only the files' names
and sizes (the folder listing), so `partly_filled_files` reads no parquet; the rows are read once, to rewrite:

- data: the row groups of the files that merge are copied one after another, small ones coalesced into row
  groups of up to `ROW_GROUP_BYTES` / `ROW_GROUP_SOURCES` (bounded memory; and one tiny group per night
  would make the file's footer as large as all the old ones together);
- videos: the mp4s that merge are joined by packet copy (`video_concat.concat_videos`, no re-encoding); each
  episode's from/to_timestamp moves by where its old file starts in the new one;
- meta/episodes: streamed file by file, every row's file and timestamp references rewritten, packed the same
  way (the rows are never held all at once: memory stays flat in the number of episodes).

A file that stays alone keeps its bytes (hard link, renamed if its number changes). Statistics, tasks,
info.json and what the quality document and the commit record say do not change (the episodes, frames and
sources are the same), but their per-commit parts (meta/quality/, meta/commit/: one file each per append) are
joined into one part each, so a year of appends does not leave hundreds of those either; every other file
outside data/, videos/ and meta/episodes/ is hard-linked whatever its format. The new version is
built beside the dataset and swapped in as a commit is (`storage.swap`), under the dataset's lock: a crash at
any point leaves the old dataset or the new one, and a rerun finishes the job. Profile and timings against a
byte copy: bench/README.md, "Compaction against a byte copy".
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.arrow_arrays import python_array
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, recover_dataset
from dataprep.lerobot.committed import APPENDED_FOLDERS, LINKED_FOLDERS, read_committed
from dataprep.lerobot.finalize import write_document
from dataprep.lerobot.layout import data_file, episodes_file, video_file
from dataprep.lerobot.packing import FileRef, plan_files
from dataprep.lerobot.quality_files import QUALITY_PATH, document_files, read_document
from dataprep.lerobot.video_concat import concat_videos
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.lock import dataset_folder_lock_path, output_lock
from dataprep.storage.markers import fsync_tree
from dataprep.storage.swap import discard_tmp, link_or_copy, swap_into_place, tmp_folder

logger = logging.getLogger(__name__)

# Small row groups are coalesced up to either bound: as the conversion's image-mode row groups (32 MB), and
# at most 16 source row groups, since each table read from a parquet file holds ~0.3 MB outside arrow's pool
# (measured on 121-column meta/episodes files): held by the hundred, they made memory grow with the dataset.
ROW_GROUP_BYTES = 32 * 1024 * 1024
ROW_GROUP_SOURCES = 16
_NAME = re.compile(r"chunk-(\d+)/file-(\d+)\.(?:parquet|mp4)$")


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


def _listed(root: Path, folder: str) -> list[FileRef]:
    """The (chunk, file) of every file in one kind's folder, in dataset order."""
    refs = []
    for path in (root / folder).glob("chunk-*/file-*.*"):
        match = _NAME.search(path.relative_to(root).as_posix())
        if match:
            refs.append((int(match[1]), int(match[2])))
    return sorted(refs)


@dataclass
class _Plan:
    root: Path
    episodes: int  # the commit record's count, checked against the rows streamed
    paths: dict[str, Callable[[FileRef], str]]  # prefix -> the dataset path of one of its files
    kinds: dict[str, dict[FileRef, FileRef]]  # prefix -> old file -> its new place, in dataset order
    video_keys: list[str]
    streamed: int = 0  # episodes rows rewritten so far

    @classmethod
    def of(cls, root: Path) -> _Plan:
        base = read_committed(root)
        info = base.info
        paths: dict[str, Callable[[FileRef], str]] = {"data": lambda ref: data_file(*ref),
                                                       "meta/episodes": lambda ref: episodes_file(*ref)}
        for key in info.video_keys:
            paths[f"videos/{key}"] = lambda ref, key=key: video_file(key, *ref)  # type: ignore[misc]
        limits = {"data": info.data_files_size_in_mb, "meta/episodes": info.data_files_size_in_mb,
                  **{f"videos/{key}": info.video_files_size_in_mb for key in info.video_keys}}
        kinds: dict[str, dict[FileRef, FileRef]] = {}
        for prefix, path_of in paths.items():
            old = _listed(root, prefix)
            if not old:
                raise DataprepError(f"{root}: {prefix} holds no file, but {COMMIT_PATH} records "
                                    f"{base.episode_count} episodes")
            sizes = [(root / path_of(ref)).stat().st_size for ref in old]
            kinds[prefix] = dict(zip(old, plan_files(sizes, limits[prefix], (0, 0), info.chunks_size)))
        return cls(root, base.episode_count, paths, kinds, info.video_keys)

    def before(self) -> dict[str, int]:
        return {prefix: len(where) for prefix, where in self.kinds.items()}

    def after(self) -> dict[str, int]:
        return {prefix: len(set(where.values())) for prefix, where in self.kinds.items()}

    def write(self, out: Path) -> None:
        for relative in _unchanged_files(self.root):  # info, stats, tasks...: commit.json last
            link_or_copy(self.root / relative, out / relative)
        quality = read_document(self.root)  # one entry a line per episode: not held beyond this call
        for name, document in (document_files(quality) if quality is not None else {}).items():
            write_document(out / name, document)
        self._write_parquet(out, "data", lambda table, _: table)
        shifts = {key: self._write_videos(out, key) for key in self.video_keys}
        seen: dict[str, set[FileRef]] = {prefix: set() for prefix in self.kinds}
        self._write_parquet(out, "meta/episodes", lambda table, ref: self._rewrite(table, ref, shifts, seen))
        if self.streamed != self.episodes:
            raise DataprepError(f"{self.root}: meta/episodes holds {self.streamed} rows, {COMMIT_PATH} says "
                                f"{self.episodes} episodes")
        for prefix, refs in seen.items():
            unused = [self.paths[prefix](ref) for ref in self.kinds[prefix] if ref not in refs]
            if unused:
                raise DataprepError(f"{self.root}: no episode refers to {', '.join(unused[:3])}; refusing to compact")
        crash_point("compact-meta")
        fsync_tree(out)
        crash_point("compact-before-commit-record")
        record = CommitRecord.load(self.root)
        if record is None:
            raise DataprepError(f"{self.root}: no {COMMIT_PATH}; refusing to compact")
        record.save(out)  # the same record, its sources in one part; the marker, written last, marks completion
        crash_point("compact-recorded")

    def _write_parquet(self, out: Path, prefix: str, edit: Callable[[pa.Table, FileRef], pa.Table]) -> None:
        """Each new file of one parquet kind: its old files' row groups in order, through `edit`."""
        for dest, sources in _groups(self.kinds[prefix]).items():
            target = out / self.paths[prefix](dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            if len(sources) == 1 and prefix == "data":
                link_or_copy(self.root / self.paths[prefix](sources[0]), target)
                continue
            writer: pq.ParquetWriter | None = None
            pending: list[pa.Table] = []
            held = 0
            try:
                for ref, group in self._row_groups(prefix, sources):
                    table = edit(group, ref)
                    if writer is None:
                        writer = pq.ParquetWriter(target, table.schema, compression="snappy")
                    pending.append(table)
                    held += table.nbytes
                    if held >= ROW_GROUP_BYTES or len(pending) >= ROW_GROUP_SOURCES:
                        _flush(writer, pending)
                        held = 0
                if writer is not None:
                    _flush(writer, pending)
            finally:
                if writer is not None:
                    writer.close()
            crash_point(f"compact-{'data' if prefix == 'data' else 'meta'}-file")

    def _row_groups(self, prefix: str, sources: list[FileRef]) -> Iterator[tuple[FileRef, pa.Table]]:
        for ref in sources:
            path = self.root / self.paths[prefix](ref)
            try:
                # Most of these files hold one night's rows: arrow's thread pool and read-ahead cost more than
                # they save there (a 1-row, 121-column episodes file: 4.4 -> 2.9 ms; a data file 0.5 -> 0.17)
                parquet = pq.ParquetFile(path, pre_buffer=False)
                for group in range(parquet.num_row_groups):
                    yield ref, parquet.read_row_group(group, use_threads=False)
            except (OSError, ValueError, pa.ArrowException) as err:
                raise DataprepError(f"{path}: cannot read it to compact: {err}") from err

    def _write_videos(self, out: Path, key: str) -> dict[FileRef, float]:
        """Each old file's start inside its new one (seconds)."""
        prefix = f"videos/{key}"
        shift: dict[FileRef, float] = {}
        for dest, sources in _groups(self.kinds[prefix]).items():
            target = out / video_file(key, *dest)
            if len(sources) == 1:
                link_or_copy(self.root / video_file(key, *sources[0]), target)
                shift[sources[0]] = 0.0
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            spans = concat_videos([self.root / video_file(key, *ref) for ref in sources], target)
            shift.update({ref: span.from_timestamp for ref, span in zip(sources, spans)})
            crash_point("compact-video-file")
        return shift

    def _rewrite(self, rows: pa.Table, source: FileRef, shifts: dict[str, dict[FileRef, float]],
                 seen: dict[str, set[FileRef]]) -> pa.Table:
        """One row group of episodes rows with every file and timestamp reference moved to the new files."""
        name_of_source = self.root / self.paths["meta/episodes"](source)
        numbers = rows["episode_index"].to_pylist()
        if numbers != list(range(self.streamed, self.streamed + len(numbers))):
            raise DataprepError(f"{name_of_source}: episodes {numbers[:1]}..{numbers[-1:]} do not follow episode "
                                f"{self.streamed - 1}; meta/episodes must hold episodes in order")
        self.streamed += len(numbers)
        first = numbers[0] if numbers else None
        for prefix, where in self.kinds.items():
            refs = list(zip(rows[f"{prefix}/chunk_index"].to_pylist(), rows[f"{prefix}/file_index"].to_pylist()))
            missing = [ref for ref in refs if ref not in where]
            if missing:
                raise DataprepError(f"{name_of_source}: episode {first} refers to "
                                    f"{self.paths[prefix](missing[0])}, which does not exist")
            seen[prefix].update(refs)
            rows = _set(rows, f"{prefix}/chunk_index", [where[ref][0] for ref in refs])
            rows = _set(rows, f"{prefix}/file_index", [where[ref][1] for ref in refs])
            key = prefix.removeprefix("videos/")
            if key in shifts:
                for name in ("from_timestamp", "to_timestamp"):
                    column = f"{prefix}/{name}"
                    rows = _set(rows, column, [t + shifts[key][ref] for t, ref in zip(rows[column].to_pylist(), refs)])
        return rows


def _unchanged_files(root: Path) -> Iterator[Path]:
    """Dataset-relative paths of every file compaction takes over as it is (not under data/, videos/,
    meta/episodes/, nor the quality and commit records and their parts, which are joined); the big folders are
    not walked."""
    skip = {root / folder for folder in (*LINKED_FOLDERS, *APPENDED_FOLDERS)}
    for current, folders, names in os.walk(root):
        folders[:] = sorted(f for f in folders if Path(current, f) not in skip)
        for name in sorted(names):
            relative = Path(current, name).relative_to(root)
            if str(relative) not in (COMMIT_PATH, QUALITY_PATH):
                yield relative


def _flush(writer: pq.ParquetWriter, pending: list[pa.Table]) -> None:
    """Write the coalesced row groups as one and empty the list (a column of 100 chunks writes ~10x slower)."""
    if pending:
        table = pa.concat_tables(pending).combine_chunks() if len(pending) > 1 else pending[0]  # one page run
        writer.write_table(table, row_group_size=max(table.num_rows, 1))
        pending.clear()


def _groups(where: dict[FileRef, FileRef]) -> dict[FileRef, list[FileRef]]:
    groups: dict[FileRef, list[FileRef]] = {}
    for old, new in where.items():
        groups.setdefault(new, []).append(old)
    return groups


def _set(table: pa.Table, name: str, values: Sequence[object]) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, python_array(values, field.type))
