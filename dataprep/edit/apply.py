"""One edit of one dataset in place: lock, recover a crashed run, skip a finished one, build, swap.

The lock is the one a conversion of the same dataset takes (`<output_root>/.locks/<owner>/<name>.lock` for
a dataset at `<output_root>/<owner>/<name>`), so a nightly append and an edit never write it together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dataprep.edit.build import EditSummary, NewVersion, build_dataset
from dataprep.edit.plan import Take
from dataprep.edit.records import EDITS_PATH, already_done, edits_after, quality_after, renumbered_record
from dataprep.edit.source import EditError, SourceDataset, read_source
from dataprep.lerobot.commit_record import recover_dataset
from dataprep.lerobot.layout import INFO_PATH
from dataprep.storage import output_lock
from dataprep.storage.lock import dataset_folder_lock_path

logger = logging.getLogger(__name__)


def edit_in_place(root: Path, operation: str, args: dict[str, Any],
                  takes_of: Callable[[SourceDataset], Sequence[Take]], again: bool = False) -> EditSummary:
    """Replace the dataset at `root` by `takes_of(its current version)`, crash-safely and once."""
    root = Path(root)
    with output_lock(dataset_folder_lock_path(root), f"dataset {root}"):
        recover_dataset(root)
        if not (root / INFO_PATH).is_file():
            raise EditError(f"{root} is not a LeRobot dataset (no {INFO_PATH})")
        source = read_source(root)
        if not again and already_done(root, operation, args):
            logger.info("%s: the last edit was this %s %s; nothing to do (pass --again to repeat it)",
                        root, operation, args)
            return EditSummary(root, len(source.episodes), source.frames, 0, 0)
        takes = list(takes_of(source))
        documents: dict[str, Any] = {EDITS_PATH: edits_after(source, operation, args, takes)}
        documents.update(quality_after(source, takes, operation))
        version = NewVersion(source.tasks, {}, renumbered_record(source, takes), documents)
        return build_dataset(takes, root, version)


def edit_into(dest: Path, operation: str, args: dict[str, Any], takes: Sequence[Take], version: NewVersion,
              again: bool = False) -> EditSummary:
    """Write a new dataset at `dest` (split, merge) from `takes` of other datasets, crash-safely and once.

    `dest` must be absent, empty, or the result of this very edit (a rerun after a kill: nothing to do).
    """
    dest = Path(dest)
    with output_lock(dataset_folder_lock_path(dest), f"dataset {dest}"):
        recover_dataset(dest)
        if (dest / INFO_PATH).is_file() and not again and already_done(dest, operation, args):
            logger.info("%s is what this %s made already; nothing to do", dest, operation)
            existing = read_source(dest)
            return EditSummary(dest, len(existing.episodes), existing.frames, 0, 0)
        if dest.exists() and any(dest.iterdir()):
            raise EditError(f"{dest} exists and is not empty; {operation} writes a new dataset: choose another folder "
                            "or remove it")
        return build_dataset(takes, dest, version)
