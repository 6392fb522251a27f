"""Completion markers: the file written last in a unit's folder, whose presence says the unit is finished.

A rerun trusts a marker and skips the unit, so a marker must never reach the disk before what it marks: a
power cut between the two would leave a marker claiming data the disk never got. `write_marker` flushes every
file and folder under the unit's folder first, then writes the marker through the atomic writer (fsynced,
renamed into place), then flushes the folder so the rename itself is durable.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from dataprep.storage.atomic import fsync_path, write_json_atomic


def fsync_tree(folder: Path, durable: Collection[str] = frozenset()) -> None:
    """Flush every file and folder under `folder` to disk, deepest first, so the marker written after is
    never durable before what it marks.

    `durable` names files (str paths under `folder`) that are hard links to files already flushed, such as a
    committed version's taken over by the next one (`swap.link_tree`): their data is on disk and the folder's
    flush makes the new link durable, so they are skipped. An append would otherwise flush every committed
    file again, a cost that grows with the dataset (766 flushes at 100 nightly episodes, ~7 files each).
    """
    for current, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            path = f"{current}/{name}"  # spelt as swap.link_tree spells the links it returns
            if path not in durable:
                fsync_path(path)
        fsync_path(current)


def write_marker(folder: Path, name: str, data: Any, indent: int = 2) -> None:
    """Write `folder/name` (JSON) as the unit's completion marker: its data durable first, the marker last."""
    fsync_tree(folder)
    write_json_atomic(folder / name, data, indent=indent)
    fsync_path(folder)
