"""Prefect task around `dataprep.validate`: validate a dataset folder and record the result as an artifact."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from dataprep.validate import ValidationReport, validate_dataset
from tasks.artifacts import artifact_key, markdown_table, record_markdown


def validation_verdict(report: ValidationReport) -> str:
    """The verdict as a sentence: the artifact's description, and the run report's validation line."""
    held = f"{report.episodes} episode(s), {report.frames} frames, {report.videos} video file(s)"
    if report.ok:
        return f"OK: {report.root} passed all {len(report.checks)} checks ({held})."
    return (f"{len(report.findings)} problem(s) in {report.root} ({held}): "
            f"{'; '.join(f.message for f in report.findings[:3])}{' ...' if len(report.findings) > 3 else ''}")


def validation_markdown(report: ValidationReport) -> str:
    """The artifact: a verdict line, what was checked, then one table row per finding."""
    verdict = "**OK**" if report.ok else f"**{len(report.findings)} problem(s)**"
    lines = [
        f"# Validation of `{report.root}`",
        "",
        (f"{verdict}: {report.episodes} episode(s), {report.frames} frames, {report.videos} video file(s), "
        f"checks: {', '.join(report.checks)}"),
        "",
    ]
    rows = [
        {
            "check": f.check,
            "file": f.file,
            "episode": "" if f.episode is None else f.episode,
            "feature": f.feature or "",
            "problem": f.message,
        }
        for f in report.findings
    ]
    if not rows:
        return "\n".join(lines) + "No problem found.\n"
    return "\n".join(lines) + markdown_table(rows)


@task(name="validate-dataset", cache_policy=NO_CACHE)
def validate_dataset_task(root: Path, decode_all: bool = False) -> ValidationReport:
    """Never fails on findings: the dataset is in place; the artifact and the log say what is wrong.

    Keyed on the dataset's folder, as every artifact of the conversion, so its history lines up across runs.
    """
    report = validate_dataset(root, decode_all=decode_all)
    record_markdown(
        validation_markdown(report),
        key=artifact_key("validation", root.resolve()),
        description=validation_verdict(report),
    )
    if not report.ok:
        get_run_logger().warning(
            "%s: %d validation problem(s):\n%s", root, len(report.findings), report.table()
        )
    return report
