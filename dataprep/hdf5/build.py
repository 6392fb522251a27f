"""The stage's steps: plan the files, scan each (or reuse its stored scan), write the index and summary.json.

`stage.Hdf5Stage` puts them in the stage contract (one unit per file). A file that fails fails alone: it is
listed in summary.json with its error and left out of the index, and every other file is indexed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.config.hdf5 import Hdf5IndexConfig, Hdf5SourceSpec
from dataprep.hdf5.errors import Hdf5Error
from dataprep.hdf5.image_cache import write_image_cache
from dataprep.hdf5.index_file import IndexCounts, merged_stats, write_index_file
from dataprep.hdf5.layout import CACHE_DIR, INDEX_NAME, SCANS_DIR, SUMMARY_NAME
from dataprep.hdf5.scan import FileScan, scan_replay, scan_segments
from dataprep.hdf5.scanstore import load_scan, save_scan, scan_file_path, scan_key
from dataprep.hdf5.sources import FileIdentity, expand_files
from dataprep.stages import UnitFailure
from dataprep.storage import write_json_atomic
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.inputs import real_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One file to index, with the source entry of the configuration that named it."""

    path: Path
    source: Hdf5SourceSpec
    rejected: str | None = None  # why the path is not opened (a FIFO, a symlink loop...): the file's failure

    @property
    def failure_path(self) -> str:
        """How a failure names the file: its resolved path, or the path itself when it was never opened (a
        link to /dev/zero is named by the link)."""
        return str(self.path.absolute() if self.rejected is not None else real_path(self.path))


@dataclass(frozen=True)
class IndexReport:
    """What a build produced; summary.json holds the same, plus statistics."""

    root: Path
    counts: IndexCounts
    files: tuple[FileScan, ...]
    failures: tuple[UnitFailure, ...]  # each named by the file's resolved path
    bytes_indexed: int  # size of the source files indexed
    index_bytes: int
    seconds: float

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    @property
    def rescanned(self) -> tuple[str, ...]:
        return tuple(scan.identity.path for scan in self.files if not scan.reused)


def plan_index(config: Hdf5IndexConfig) -> tuple[SourceFile, ...]:
    """Every file of every source; a file named by two sources is an error (which kind would it be?)."""
    planned: dict[Path, SourceFile] = {}
    for source in config.sources:
        expansion = expand_files(source.paths)
        for path in expansion.found:
            key = path.resolve()
            if key in planned and planned[key].source != source:
                raise Hdf5Error(f"{path} is named by two sources ({planned[key].source.kind} and {source.kind})")
            planned[key] = SourceFile(path, source)
        for rejected in expansion.rejected:
            planned.setdefault(real_path(rejected.path), SourceFile(rejected.path, source, rejected.reason))
    return tuple(planned.values())


def scan_source(config: Hdf5IndexConfig, file: SourceFile) -> FileScan:
    """The file's scan: the stored one if the file is unchanged since it was made, else a fresh scan (stored)."""
    if file.rejected is not None:
        raise Hdf5Error(f"{file.path}: {file.rejected}")
    identity = FileIdentity.of(file.path)
    cache_size = config.image_cache.size if config.image_cache and file.source.kind == "replay" else None
    key = scan_key(identity, file.source, cache_size)
    stored_at = scan_file_path(config.output_root, key)
    stored = load_scan(stored_at, identity)
    if stored is not None:
        logger.info("%s unchanged since its last scan; reusing %s", file.path, stored_at)
        return stored
    scan = scan_replay(identity) if file.source.kind == "replay" else scan_segments(identity, file.source)
    scan = dataclasses.replace(scan, key=key)
    if cache_size is not None:
        cache = config.output_root.resolve() / CACHE_DIR / f"{key}.h5"
        write_image_cache(scan, cache, cache_size)
        scan = dataclasses.replace(scan, cache=str(cache))
    crash_point("hdf5-before-scan-saved")  # the image cache written, the scan not: the rerun scans again
    save_scan(scan, stored_at)
    return scan


def _agreeing(scans: Sequence[FileScan]) -> tuple[list[FileScan], list[UnitFailure]]:
    """Replay files must share joint and action widths to share flat columns; the first file sets them."""
    kept: list[FileScan] = []
    failures: list[UnitFailure] = []
    widths: tuple[int, int] | None = None
    for scan in scans:
        if scan.replay is not None:
            these = (scan.replay.joint.shape[1], scan.replay.action.shape[1])
            widths = widths or these
            if these != widths:
                failures.append(UnitFailure.rejected(scan.identity.path, f"joint/action widths {these} differ from "
                                                     f"the other files' {widths}"))
                continue
        kept.append(scan)
    return kept, failures


def write_index(config: Hdf5IndexConfig, scans: Sequence[FileScan], failures: Sequence[UnitFailure],
                started: float) -> IndexReport:
    """Write index.h5 and summary.json from the scans that succeeded; `started` is the run's time.monotonic()."""
    kept, disagreeing = _agreeing(scans)
    failures = (*failures, *disagreeing)
    root = config.output_root
    if not kept:  # an index of nothing would replace a good one, e.g. while every file is locked by a writer
        listing = "\n".join(f"- {failure.message}" for failure in failures) or "- no source file was found"
        raise Hdf5Error(f"no file could be indexed, so {root / INDEX_NAME} was not written (an existing index is "
                        f"kept):\n{listing}")
    counts = write_index_file(root, kept)
    report = IndexReport(root=root, counts=counts, files=tuple(kept), failures=tuple(failures),
                         bytes_indexed=sum(s.identity.size for s in kept),
                         index_bytes=(root / INDEX_NAME).stat().st_size, seconds=time.monotonic() - started)
    write_json_atomic(root / SUMMARY_NAME, summary_dict(report))
    _prune(root, {scan.key for scan in kept})
    return report


def _prune(root: Path, keys: set[str]) -> None:
    """Remove stored scans and image caches of files the new index does not hold (removed, renamed or
    failed sources), now that nothing refers to them; otherwise the folder grows with every rename."""
    for stale in [*(root / SCANS_DIR).glob("*.npz"), *(root / CACHE_DIR).glob("*.h5")]:
        if stale.stem not in keys:
            logger.info("removing %s: its source is no longer indexed", stale)
            stale.unlink(missing_ok=True)


def summary_dict(report: IndexReport) -> dict[str, object]:
    counts = report.counts
    return {
        "index": str(report.index_path.resolve()),
        "samples": counts.samples, "episodes": counts.episodes, "pairs": counts.pairs,
        "transitions": counts.transitions, "segments": counts.segments,
        "files": [{"path": s.identity.path, "kind": s.kind, "rows": s.rows, "reused": s.reused, "cache": s.cache}
                  for s in report.files],
        "failed": [{"path": f.unit, "error": f.message} for f in report.failures],
        "stats": {name: m.summary() for name, m in merged_stats(report.files).items()},
        "bytes_indexed": report.bytes_indexed, "index_bytes": report.index_bytes,
        "index_bytes_per_sample": round(report.index_bytes / max(1, counts.samples + counts.segments), 1),
        "seconds": round(report.seconds, 3),
    }  # fmt: skip
