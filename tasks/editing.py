"""Prefect task around one dataset edit (`dataprep.edit`): run it, record what it did as an artifact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from dataprep.edit import EditSummary
from tasks.artifacts import artifact_key, record_markdown
from tasks.dataset_slot import dataset_slot


def edit_markdown(operation: str, arguments: dict[str, Any], summary: EditSummary) -> str:
    shown = ", ".join(f"{key}={value}" for key, value in arguments.items())
    return (f"# {operation} on `{summary.root}`\n\n- arguments: {shown}\n- now {summary.episodes} episode(s), "
            f"{summary.frames} frames\n- {summary.linked_files} file(s) kept as they were (hard links), "
            f"{summary.reencoded_episodes} episode video(s) re-encoded\n")


@task(name="edit-dataset", cache_policy=NO_CACHE)
def edit_task(operation: str, run: Callable[..., EditSummary], root: Path, arguments: dict[str, Any]) -> EditSummary:
    """No retries: an edit that failed left the dataset as it was, and its error names what to change.

    Holds the dataset's slot, as a conversion stage does: an edit started during the nightly run waits for it.
    """
    with dataset_slot(root):
        summary = run(root, **arguments)
    record_markdown(edit_markdown(operation, arguments, summary), key=artifact_key("edit", root.resolve()),
                    description=f"{operation} of {root}")
    get_run_logger().info("%s %s: %d episodes, %d frames", operation, root, summary.episodes, summary.frames)
    return summary
