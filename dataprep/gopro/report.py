"""What a run did, per sequence and in total: `report.json`, the per-split summary rows, the console text.

`report.json` describes the tree and the last run that changed it: a rerun that changes nothing (no link,
voxel or state file written or removed, the same frames, left-out frames and failures) leaves it untouched,
so a read-only sync of the output sees no file change. The console still shows the rerun's own counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from dataprep.gopro.errors import GoproError
from dataprep.gopro.plan import LeftOut, sequence_name
from dataprep.stages import UnitFailure
from dataprep.storage import write_json_atomic

REPORT_FILE = "report.json"
COUNTS = (
    "links_created",
    "links_updated",
    "links_removed",
    "links_unchanged",
    "voxels_written",
    "voxels_removed",
)
DRY_RUN_LINES = 20  # changes printed per sequence by --dry-run; the rest are counted


class SequenceResult(NamedTuple):
    """One sequence prepared (or, in a dry run, what preparing it would change)."""

    split: str
    sequence: str
    frames: int
    left_out: tuple[LeftOut, ...]
    reason: str | None  # why the whole sequence is left out (e.g. only in one root), None when it is linked
    links_created: int = 0
    links_updated: int = 0
    links_removed: int = 0
    links_unchanged: int = 0
    voxels_written: int = 0
    voxels_removed: int = 0
    changes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return sequence_name(self.split, self.sequence)


class PrepareReport(NamedTuple):
    output_root: Path
    splits: tuple[str, ...]
    sequences: tuple[SequenceResult, ...]
    failures: tuple[UnitFailure, ...]  # each named `split/sequence`
    dry_run: bool = False

    def totals(self) -> dict[str, int]:
        linked = [r for r in self.sequences if r.reason is None]
        totals = {
            "sequences": len(linked),
            "frames": sum(r.frames for r in linked),
            "frames_left_out": sum(len(r.left_out) for r in linked),
            "sequences_left_out": len(self.sequences) - len(linked),
            "sequences_failed": len(self.failures),
        }
        return totals | {key: sum(getattr(r, key) for r in self.sequences) for key in COUNTS}

    def as_json(self) -> dict[str, Any]:
        """report.json: each sequence linked (frames, frames left out and why, changes), left out, failed."""
        return {
            "output_root": str(self.output_root),
            "splits": list(self.splits),
            "totals": self.totals(),
            "sequences": {
                r.name: {
                    "frames": r.frames,
                    "left_out": {f.frame: f.reason for f in r.left_out},
                    **{key: getattr(r, key) for key in COUNTS},
                }
                for r in self.sequences
                if r.reason is None
            },
            "left_out_sequences": {r.name: r.reason for r in self.sequences if r.reason is not None},
            "failed_sequences": {f.unit: f.message for f in self.failures},
        }


CHANGES = tuple(key for key in COUNTS if key != "links_unchanged")


def _without_counts(document: Any) -> Any:
    """report.json less the per-run counts: what the tree holds, which a rerun that changes nothing keeps."""
    if not isinstance(document, dict):
        return document
    kept = {**document, "totals": {k: v for k, v in document.get("totals", {}).items() if k not in COUNTS}}
    kept["sequences"] = {name: {k: v for k, v in entry.items() if k not in COUNTS}
                         for name, entry in document.get("sequences", {}).items()}
    return kept


def write_report(report: PrepareReport) -> Path:
    """Write report.json, unless this run changed nothing and the file already describes this very tree."""
    path = report.output_root / REPORT_FILE
    document = report.as_json()
    if not any(report.totals()[key] for key in CHANGES):
        try:
            if _without_counts(json.loads(path.read_text(encoding="utf-8"))) == _without_counts(document):
                return path
        except (OSError, ValueError):
            pass  # absent or unreadable: write it
    write_json_atomic(path, document)
    return path


def split_rows(report: PrepareReport, split: str) -> list[dict[str, Any]]:
    """The summary table of one split: a row per sequence, failures and left-out sequences included."""
    rows: list[dict[str, Any]] = []
    for r in report.sequences:
        if r.split == split:
            status = "ok" if r.reason is None else f"left out: {r.reason}"
            rows.append(
                {
                    "sequence": r.sequence,
                    "status": status,
                    "frames": r.frames,
                    "frames_left_out": len(r.left_out),
                    **{key: getattr(r, key) for key in COUNTS},
                }
            )
    rows += [
        {"sequence": f.unit.removeprefix(f"{split}/"), "status": f"FAILED: {f.message}", "frames": 0,
         "frames_left_out": 0, **dict.fromkeys(COUNTS, 0)}
        for f in report.failures if f.unit.startswith(f"{split}/")
    ]
    return rows


def format_report(report: PrepareReport) -> str:
    """The console summary: totals, each left-out sequence and failure; a dry run lists its changes too."""
    t = report.totals()
    verb = "would be" if report.dry_run else "were"
    lines = [
        (f"{'dry run: ' if report.dry_run else ''}gopro tree at {report.output_root.resolve()} "
        f"(splits {', '.join(report.splits)})"),
        (f"  {t['sequences']} sequence(s), {t['frames']} frame(s) linked, {t['frames_left_out']} frame(s) "
        f"left out (see {REPORT_FILE})"),
        (f"  links {verb} created {t['links_created']}, updated {t['links_updated']}, removed "
        f"{t['links_removed']} ({t['links_unchanged']} unchanged); voxels {verb} written "
        f"{t['voxels_written']}, removed {t['voxels_removed']}"),
    ]
    lines += [f"  {r.name}: left out: {r.reason}" for r in report.sequences if r.reason is not None]
    lines += [f"  {f.unit}: FAILED: {f.message}" for f in report.failures]
    if report.dry_run:
        lines += _dry_run_lines(report.sequences)
    return "\n".join(lines)


def _dry_run_lines(results: Iterable[SequenceResult]) -> list[str]:
    lines = []
    for r in results:
        if r.changes:
            lines.append(f"  {r.name}:")
            lines += [f"    {change}" for change in r.changes[:DRY_RUN_LINES]]
            if len(r.changes) > DRY_RUN_LINES:
                lines.append(f"    ... and {len(r.changes) - DRY_RUN_LINES} more")
    return lines


def raise_for_failures(report: PrepareReport) -> PrepareReport:
    """The stage's outcome for `convert_all` and the CLI: failed sequences make it an error after the report,
    so the console shows what was prepared and then what failed."""
    if report.failures:
        raise GoproError(f"{format_report(report)}\n{len(report.failures)} sequence(s) failed (see above)")
    return report
