"""What each stage prints after a run. Plain Python, no Prefect: one-offs run without it print the same."""

from __future__ import annotations

import json

from dataprep.conversion import ConversionReport


def describe_conversion(report: ConversionReport) -> str:
    """What a user wants to see after a run: where the dataset is, what it holds, and what was dropped."""
    summary = report.dataset
    info = json.loads((summary.root / "meta" / "info.json").read_text())
    lines = [f"dataset {summary.repo_id} at {summary.root.resolve()}",
             (f"  {summary.episodes} episode(s), {summary.frames} frames at {summary.fps} fps "
              f"({summary.frames / summary.fps:.1f} s), {len(summary.tasks)} task(s)")]
    lines += [f"  {key}: {feature['dtype']} {feature['shape']}" for key, feature in info["features"].items()]
    for bag in report.bags:
        reused = ", staged by an earlier run" if bag.reused else ""
        lines.append(f"  {bag.bag}: {bag.frames} frames kept, {sum(bag.dropped.values())} dropped{reused}")
        lines += [f"    dropped {count}: {reason}" for reason, count in bag.dropped.items()]
    lines += [f"  {failure.bag}: SKIPPED (on_bag_error: skip): {failure.error}" for failure in report.skipped]
    return "\n".join(lines)
