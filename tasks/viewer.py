"""Prefect task around `dataprep.viewer`: write the dataset viewer after a conversion and link it from the run.

The viewer is a convenience on top of a committed dataset, so a failure to write it is logged as a warning
and never fails the run. The link is a file:// URL (a browser opens it from the file system); the artifact's
description also gives the command that serves it over http, for a browser on another machine or a UI that
does not follow file:// links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE

from dataprep.config import ConvertConfig
from dataprep.errors import DataprepError
from dataprep.viewer import ViewerSummary, default_out, read_viewer, write_viewer
from tasks.artifacts import artifact_key


def viewer_link_artifact(summary: ViewerSummary) -> None:
    """The run report's link to the viewer's index page (key `viewer-<dataset root>`)."""
    create_link_artifact(
        summary.index.as_uri(), link_text=f"viewer of {summary.root.name}: {summary.index}",
        key=artifact_key("viewer", summary.root),
        description=(f"Every episode of {summary.root} with its quality, and per episode its cameras and plots. "
                     f"Serve it: `python -m flows.view_dataset {summary.root} --out {summary.out} --serve`"),
    )  # fmt: skip


@task(name="write-viewer", cache_policy=NO_CACHE)
def write_viewer_task(root: Path, out: Path | None) -> Path | None:
    """Write the viewer of the dataset at `root` and link it; None (and a warning) when it cannot be written."""
    logger = get_run_logger()
    try:
        summary = write_viewer(root, out)
    except (DataprepError, OSError) as err:
        logger.warning("no viewer for %s: %s", root, err)
        return None
    viewer_link_artifact(summary)
    logger.info("%s", summary.text().splitlines()[0])
    return summary.out


def viewer_after_run(config: ConvertConfig, root: Path) -> Path | None:
    """The flow's hook: the viewer when `viewer.enabled` is set (no task run at all otherwise)."""
    if not config.viewer.enabled:
        return None
    return write_viewer_task(root, config.viewer.out)


def link_existing_viewer(root: Path, section: Any = None) -> bool:
    """For a run report: link the viewer of the dataset at `root` if one was written for it (at the stage
    section's `viewer.out`, else beside the dataset); False when there is none."""
    out = getattr(getattr(section, "viewer", None), "out", None) or default_out(root)
    summary = read_viewer(out)
    if summary is None or summary.root.resolve() != Path(root).resolve():
        return False
    viewer_link_artifact(summary)
    return True
