"""HDF5 indexing as a stage of the contract (`dataprep.stages`): one unit per source file.

A file that fails, whatever it raised, is listed in summary.json with its error and left out of the index;
the others are indexed, and the failures make the stage an error after the summary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from typing_extensions import override

from dataprep.config.hdf5 import Hdf5IndexConfig
from dataprep.errors import DataprepError
from dataprep.hdf5.build import IndexReport, SourceFile, plan_index, scan_source, write_index
from dataprep.hdf5.errors import Hdf5Error
from dataprep.hdf5.scan import FileScan
from dataprep.stages import LocalExecutor, Report, Stage, StageOutcome, run_stage
from dataprep.stages.failure import disk_full, failure_kind


class IndexPlan(NamedTuple):
    """The files to index and when the run started (`time.monotonic()`, for the report's seconds)."""

    files: tuple[SourceFile, ...]
    started: float


@dataclass(frozen=True)
class Hdf5Stage(Stage[IndexPlan, SourceFile, FileScan, IndexReport]):
    config: Hdf5IndexConfig
    name = "hdf5_index"

    @override
    def plan(self) -> IndexPlan:
        started = time.monotonic()
        return IndexPlan(plan_index(self.config), started)

    @override
    def units(self, plan: IndexPlan) -> Sequence[SourceFile]:
        return plan.files

    @override
    def unit_name(self, unit: SourceFile) -> str:
        return unit.failure_path  # a rejected path (a symlink loop) is named as given: resolving it would raise

    @override
    def run_unit(self, plan: IndexPlan, unit: SourceFile, report: Report | None = None) -> FileScan:
        return scan_source(self.config, unit)

    @override
    def name_failure(self, unit: SourceFile, err: BaseException) -> DataprepError | None:
        if isinstance(err, DataprepError) or failure_kind(err) == "interrupted":
            return None
        if (full := disk_full(err)) is not None:
            return Hdf5Error(f"{unit.path}: disk full while writing {full.filename or self.config.output_root}: "
                             f"free space on that disk (or point output_root elsewhere) and rerun")
        if isinstance(err, OSError):
            return Hdf5Error(f"{unit.path}: I/O error{' ' + str(err.filename) if err.filename else ''}: "
                             f"{err.strerror or err}")
        return None

    @override
    def conclude(self, plan: IndexPlan, outcome: StageOutcome[FileScan]) -> IndexReport:
        return write_index(self.config, outcome.results, outcome.failures, plan.started)

    @override
    def raise_for_failures(self, report: IndexReport) -> IndexReport:
        return raise_for_index_failures(report)


def describe_index(report: IndexReport) -> str:
    """Where the index is, what it holds, and which files failed."""
    counts = report.counts
    lines = [f"HDF5 index at {report.index_path.resolve()}",
             (f"  {len(report.files)} file(s), {counts.samples} samples in {counts.episodes} episode(s), "
              f"{counts.pairs} pairs, {counts.segments} segments; {report.bytes_indexed / 1e6:.1f} MB indexed "
              f"in {report.seconds:.1f} s ({len(report.rescanned)} file(s) scanned, "
              f"{len(report.files) - len(report.rescanned)} unchanged)")]
    lines += [f"  FAILED {failure.message}" for failure in report.failures]
    return "\n".join(lines)


def raise_for_index_failures(report: IndexReport) -> IndexReport:
    """The stage's outcome for `convert_all` and the CLI, as for GoPro sequences: the index of the files that
    were read is written, and files that failed make the stage an error after the summary."""
    if report.failures:
        raise Hdf5Error(f"{describe_index(report)}\n{len(report.failures)} file(s) failed (see above)")
    return report


def build_index(config: Hdf5IndexConfig) -> IndexReport:
    """Plan, scan every file (each failure that file's alone), write the index: the stage without Prefect."""
    return run_stage(Hdf5Stage(config), LocalExecutor())


__all__ = ["Hdf5Stage", "IndexPlan", "build_index", "describe_index", "raise_for_index_failures"]
