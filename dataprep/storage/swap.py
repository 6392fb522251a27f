"""Replacing a whole folder so a reader sees the old version or the new one, never a mix, even across a crash.

The new version is built in `.{name}.tmp` beside the folder and marked complete by a file written last (the
caller's `marker`, relative to the folder). The swap is two renames on one filesystem: the old version to
`.{name}.old`, the new one into place; then the old one is deleted. A crash at any moment leaves a state
`recover_swap` resolves at the next start: a complete tmp is swapped in (the crash came after it was
finished), an incomplete one is deleted, and an `.old` is put back (no new version) or deleted (the new one
is in place).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from dataprep.errors import DataprepError
from dataprep.storage.atomic import fsync_path
from dataprep.storage.crashpoints import crash_point

logger = logging.getLogger(__name__)


def tmp_folder(root: Path) -> Path:
    """Where the next version of `root` is built."""
    return root.parent / f".{root.name}.tmp"


def old_folder(root: Path) -> Path:
    """Where the previous version of `root` waits during a swap."""
    return root.parent / f".{root.name}.old"


def recover_swap(root: Path, marker: str) -> str | None:
    """Finish or roll back a swap a crash interrupted; returns what was done, for the log (None: nothing)."""
    root = Path(root)
    tmp, old = tmp_folder(root), old_folder(root)
    done = None
    if tmp.is_dir() and (tmp / marker).is_file():
        swap_into_place(tmp, root)
        done = f"finished the interrupted swap of {root}"
    elif tmp.exists():
        discard_tmp(root, marker)
        done = f"removed the incomplete new version {tmp}"
    if old.exists():
        if root.exists():
            shutil.rmtree(old)
        else:
            os.rename(old, root)
            done = f"restored {root} from {old}"
    if done:
        logger.info("%s", done)
    return done


def discard_tmp(root: Path, marker: str) -> None:
    """Delete the new version being built for `root`, its marker first: a crash halfway through the deletion
    must not leave a folder that looks complete with files missing."""
    tmp = tmp_folder(root)
    (tmp / marker).unlink(missing_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(tmp: Path, root: Path) -> None:
    """Rename the old version away, the new one in, then delete the old one (each step one rename)."""
    old = old_folder(root)
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        os.rename(root, old)
        crash_point("swap-between-renames")
    try:
        os.rename(tmp, root)
    except OSError as err:
        if old.exists():
            os.rename(old, root)  # put the previous version back
        raise DataprepError(f"cannot move the new version {tmp} to {root}: {err}") from err
    fsync_path(root.parent)
    crash_point("swap-before-cleanup")
    shutil.rmtree(old, ignore_errors=True)


def link_tree(src: Path, dst: Path, folders: Iterable[str]) -> set[str]:
    """Hard-link every file under `src/<folder>` to the same place under `dst`; returns the links made (paths
    under `dst`, as str), i.e. the files taken over as they are, which `fsync_tree` need not flush again.

    An append takes over every committed file, so this is the part of a commit that grows with the dataset:
    one link a file, each folder made once, and str paths, not Path objects: 700 files in 5.4 ms against
    28.7 ms with a `link_or_copy` per file (`python -m bench.micro_bench link-tree`). A file that cannot be
    linked is copied, and not returned: a copy is new data to flush.
    """
    linked: set[str] = set()
    top, out = str(src), str(dst)
    for folder in folders:
        for current, folders_below, names in os.walk(f"{top}/{folder}"):
            folders_below.sort()
            target = out + current[len(top):]
            os.makedirs(target, exist_ok=True)  # noqa: PTH103 - str paths, see the docstring
            for name in sorted(names):
                source, link = f"{current}/{name}", f"{target}/{name}"
                try:
                    os.link(source, link)
                    linked.add(link)
                except OSError:
                    shutil.copy2(source, link)
    return linked


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link a finished file (no copy, same bytes); copy when the filesystem cannot link."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
