"""What each stage prints after a run. Plain Python, no Prefect: one-offs run without it print the same."""

from __future__ import annotations

from dataprep.conversion import ConversionReport
from dataprep.conversion.commit import CHANGED_NOTE
from dataprep.conversion.quality_report import QUALITY_PATH
from dataprep.gopro import PrepareReport
from dataprep.gopro.report import format_report
from dataprep.hdf5.stage import describe_index
from dataprep.lerobot import DatasetInfo


def describe_conversion(report: ConversionReport) -> str:
    """What a user wants to see after a run: where the dataset is, what it holds, what was dropped and why."""
    summary = report.dataset
    info = DatasetInfo.read(summary.root)
    lines = [f"dataset {summary.repo_id} at {summary.root.resolve()}",
             (f"  {summary.episodes} episode(s), {summary.frames} frames at {summary.fps} fps "
              f"({summary.frames / summary.fps:.1f} s), {len(summary.tasks)} task(s)")]
    lines += [f"  {key}: {feature.dtype} {list(feature.shape)}" for key, feature in info.features.items()]
    if not report.bags and not report.skipped:
        lines.append("  no new bag: the dataset holds every bag of the input already (mode: append)")
    for bag in report.bags:
        reused = ", staged by an earlier run" if bag.reused else ""
        lines.append(f"  {bag.bag}: {bag.frames} frames kept, {sum(bag.dropped.values())} dropped{reused}")
        lines += [f"    dropped {count}: {reason}" for reason, count in bag.dropped.items()]
        lines += [f"    note: {note}" for note in bag.notes]
        lines += [f"    {episode.folder} {'EXCLUDED' if episode in bag.excluded else 'failing'} (score "
                  f"{episode.quality.score}): {'; '.join(episode.quality.failing)}"
                  for episode in (*bag.episodes, *bag.excluded) if episode.quality and episode.quality.failing]
        lines += [f"    header stamps, {count} message(s): {problem}" for problem, count in bag.stamp_problems.items()]
    lines.append(f"  quality report: {summary.root.resolve() / QUALITY_PATH}")
    lines += [f"  {failure.unit}: SKIPPED (on_bag_error: skip): {failure.cause}" for failure in report.skipped]
    lines += [f"  {bag}: CHANGED: {CHANGED_NOTE}" for bag in report.changed]
    return "\n".join(lines)


def describe_gopro(report: PrepareReport) -> str:
    return format_report(report)


__all__ = ["describe_conversion", "describe_gopro", "describe_index"]
