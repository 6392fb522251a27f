"""Prefect tasks around `dataprep.hdf5`: plan, one scan per source file, write the index; with artifacts.

Unchanged files are skipped by the library's stored scans, which work with and without Prefect, so the
tasks use no Prefect cache. Every task records a memory snapshot; the write task records the index summary.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import Hdf5Stage, IndexPlan, IndexReport, scan_source, write_index
from dataprep.hdf5.build import SourceFile
from dataprep.hdf5.scan import FileScan
from dataprep.memory import take_snapshot
from dataprep.stages import UnitFailure
from tasks.artifacts import artifact_key, markdown_table, record_markdown, record_memory


def summary_key(config: Hdf5IndexConfig) -> str:
    """The index summary artifact's key, one per output folder."""
    return artifact_key("hdf5-index", config.output_root.resolve())


@task(name="plan-hdf5-index", cache_policy=NO_CACHE)
def plan_index_task(config: Hdf5IndexConfig) -> IndexPlan:
    plan = Hdf5Stage(config).plan()
    files = plan.files
    record_memory("plan", "hdf5", config.output_root.resolve())
    record_markdown(f"# HDF5 index plan\n\n{len(files)} file(s) into `{config.output_root.resolve()}`\n\n"
                    + "".join(f"- `{f.path}` ({f.source.kind})\n" for f in files),
                    key=artifact_key("hdf5-plan", config.output_root.resolve()), description="Files to index")
    return plan


@task(name="scan-hdf5-file", task_run_name="scan-{file.path.name}", cache_policy=NO_CACHE)
def scan_file_task(config: Hdf5IndexConfig, file: SourceFile) -> FileScan:
    """Scan one file (or reuse its stored scan); a memory row says how much the scan took."""
    scan = scan_source(config, file)
    row = {"file": str(file.path), "rows": scan.rows, "reused": scan.reused, **take_snapshot().as_row()}
    create_table_artifact([row], key=artifact_key("memory", "hdf5", file.path.resolve()),
                          description=f"Memory after scanning {file.path}")
    return scan


@task(name="write-hdf5-index", cache_policy=NO_CACHE)
def write_index_task(config: Hdf5IndexConfig, scans: list[FileScan], failures: list[UnitFailure],
                     started: float) -> IndexReport:
    report = write_index(config, scans, failures, started)
    record_memory("write", "hdf5", config.output_root.resolve())
    counts = report.counts
    create_table_artifact(
        [{"files": len(report.files), "failed": len(report.failures), "samples": counts.samples,
          "episodes": counts.episodes, "pairs": counts.pairs, "segments": counts.segments,
          "bytes_indexed": report.bytes_indexed, "index_bytes": report.index_bytes,
          "seconds": round(report.seconds, 3)}],
        key=summary_key(config), description=f"HDF5 index summary of {report.index_path.resolve()}",
    )  # fmt: skip
    files = [{"file": Path(s.identity.path).name, "kind": s.kind, "rows": s.rows, "rescanned": not s.reused}
             for s in report.files]
    failed = [{"file": f.unit, "error": f.message} for f in report.failures]
    record_markdown(f"# HDF5 index `{report.index_path.resolve()}`\n\n## Files\n\n{markdown_table(files)}\n"
                    f"## Failed\n\n{markdown_table(failed)}",
                    key=artifact_key("hdf5-files", config.output_root.resolve()),
                    description="Files indexed and failed")
    return report
