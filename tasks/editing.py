"""Prefect task around one dataset edit (`dataprep.edit`): run it, record what it did as an artifact.

`root` is the dataset the artifact and the slot are keyed by (the edited one, or the new one of a merge)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from dataprep.edit import EditSummary
from dataprep.edit.compact import CompactionSummary
from tasks.artifacts import artifact_key, record_markdown
from tasks.dataset_slot import dataset_slot

EditResult = EditSummary | tuple[EditSummary, ...] | CompactionSummary


def edit_markdown(operation: str, arguments: dict[str, Any], result: EditResult) -> str:
    shown = ", ".join(f"{key}={value}" for key, value in arguments.items())
    lines = [f"# {operation}", "", f"- arguments: {shown}"]
    if isinstance(result, CompactionSummary):
        counts = ", ".join(f"{kind} {result.before[kind]} -> {result.after.get(kind, 0)}" for kind in result.before)
        lines.append(f"- `{result.root}`: " + (f"files per kind {counts}" if result.changed else "nothing to compact"))
        return "\n".join(lines) + "\n"
    lines += [f"- `{summary.root}`: {summary.episodes} episode(s), {summary.frames} frames; "
              f"{summary.linked_files} file(s) kept as they were (hard links), "
              f"{summary.reencoded_episodes} episode video(s) re-encoded"
              for summary in (result if isinstance(result, tuple) else (result,))]
    return "\n".join(lines) + "\n"


@task(name="edit-dataset", cache_policy=NO_CACHE)
def edit_task(operation: str, run: Callable[..., Any], root: Path, arguments: dict[str, Any]) -> EditResult:
    """No retries: an edit that failed left the dataset as it was, and its error names what to change.

    Holds the dataset's slot, as a conversion stage does: an edit started during the nightly run waits for it.
    """
    with dataset_slot(root):
        result: EditResult = run(**arguments)
    record_markdown(edit_markdown(operation, arguments, result), key=artifact_key("edit", root.resolve()),
                    description=f"{operation} of {root}")
    get_run_logger().info("%s", edit_markdown(operation, arguments, result))
    return result
