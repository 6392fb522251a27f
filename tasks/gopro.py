"""Prefect tasks around `dataprep.gopro`: each wraps one library call and adds artifacts.

A rerun skips finished work through the library's own per-sequence state (spike checks and voxels), so the
tasks use no Prefect cache. Sequence tasks are not retried: the library already turns I/O errors into a
failure of that sequence alone, and a rerun repeats only what is not done.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from dataprep.config.gopro import GoproPrepareConfig
from dataprep.gopro import PreparePlan, PrepareReport, SequenceResult, conclude_prepare, plan_prepare, prepare_sequence
from dataprep.gopro.plan import SequenceJob
from dataprep.gopro.report import split_rows
from dataprep.stages import UnitFailure
from tasks.artifacts import artifact_key, markdown_table, record_markdown, record_memory

STAGE = "gopro"


def _tree(config: GoproPrepareConfig) -> str:
    """Artifact keys hold the whole output folder, as every stage's do: two trees named alike stay apart."""
    return str(config.output_root.resolve())


@task(name="plan-gopro", cache_policy=NO_CACHE)
def plan_gopro_task(config: GoproPrepareConfig) -> PreparePlan:
    plan = plan_prepare(config)
    record_memory("plan", STAGE, _tree(config))
    rows = [{"split": job.split, "sequence": job.sequence, "note": job.reason or ""} for job in plan.jobs]
    record_markdown(
        f"# Plan for `{config.output_root}`\n\n{len(plan.jobs)} sequence(s)\n\n{markdown_table(rows)}",
        key=artifact_key("plan", STAGE, _tree(config)),
        description="Sequences to prepare",
    )
    return plan


@task(name="prepare-sequence", task_run_name="prepare-{job.split}-{job.sequence}", cache_policy=NO_CACHE)
def prepare_sequence_task(
    config: GoproPrepareConfig, job: SequenceJob, dry_run: bool = False
) -> SequenceResult:
    """One sequence; its memory snapshot is recorded whether it succeeds or fails."""
    try:
        return prepare_sequence(config, job, dry_run)
    finally:
        record_memory("prepare", STAGE, _tree(config), job.split, job.sequence)


@task(name="report-gopro", cache_policy=NO_CACHE)
def report_gopro_task(
    config: GoproPrepareConfig,
    plan: PreparePlan,
    results: list[SequenceResult],
    failures: list[UnitFailure],
    dry_run: bool = False,
) -> PrepareReport:
    """Write report.json and record one summary table per split."""
    report = conclude_prepare(config, plan, results, failures, dry_run)
    for split in report.splits:
        create_table_artifact(
            split_rows(report, split),
            key=artifact_key(STAGE, _tree(config), split, "summary"),
            description=f"{'Dry run: ' if dry_run else ''}sequences of split {split} in {config.output_root}",
        )
    record_memory("report", STAGE, _tree(config))
    return report
