"""The output side of one sequence: what is there, what must change, and making the change.

Only the sequence's own folder is touched. Removal is limited to what this stage makes (symlinks in the
linked folders, `<frame>.npy` in the voxel folder, the state file, folders it emptied); anything else found
there is left alone, and a real file or folder where a link must go stops the sequence before any change.
Links are never followed for writing: a link is replaced by renaming a new link over it, removed by
`unlink`, so the raw roots it points into are never modified.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from dataprep.gopro.errors import SequenceError
from dataprep.gopro.plan import Link

VOXEL_SUFFIX = ".npy"


class ExistingTree(NamedTuple):
    """What the sequence's output folder holds in the folders this stage manages."""

    links: dict[str, str]  # relative path -> link text
    others: frozenset[str]  # relative paths of real files and folders in the linked folders
    voxels: frozenset[str]  # frames that have a `<frame>.npy` regular file in the voxel folder


class TreeChanges(NamedTuple):
    create: tuple[Link, ...]
    update: tuple[Link, ...]
    remove: tuple[str, ...]
    unchanged: int

    def lines(self) -> list[str]:
        """One line per change, for dry runs and logs."""
        return (
            [f"create {link.path} -> {link.target}" for link in self.create]
            + [f"update {link.path} -> {link.target}" for link in self.update]
            + [f"remove {path}" for path in self.remove]
        )


def read_tree(output_dir: Path, link_folders: Iterable[str], voxel_folder: str) -> ExistingTree:
    """List the managed folders; refuse one that is itself a link (writing would go through it)."""
    links: dict[str, str] = {}
    others: set[str] = set()
    for folder in link_folders:
        for entry in _entries(output_dir, folder):
            path = f"{folder}/{entry.name}"
            if entry.is_symlink():
                links[path] = os.readlink(entry.path)  # noqa: PTH115 - a scandir entry's str path, no Path to build
            else:
                others.add(path)
    voxels = frozenset(
        entry.name.removesuffix(VOXEL_SUFFIX)
        for entry in _entries(output_dir, voxel_folder)
        if entry.name.endswith(VOXEL_SUFFIX) and entry.is_file(follow_symlinks=False)
    )
    return ExistingTree(links, frozenset(others), voxels)


def _entries(output_dir: Path, folder: str) -> list[os.DirEntry[str]]:
    path = output_dir / folder
    for level in (output_dir, path):
        if level.is_symlink():
            raise SequenceError(f"{level} is a symlink; refusing to write through it (remove it and rerun)")
    if not path.exists():
        return []
    if not path.is_dir():
        raise SequenceError(f"{path} is a file where the folder {folder!r} should be; move it away and rerun")
    with os.scandir(path) as entries:
        return [entry for entry in entries if not entry.name.startswith(".")]


def diff_links(desired: Iterable[Link], existing: ExistingTree) -> TreeChanges:
    """Links to create, to repair (target changed) and to remove (no longer wanted); raises on real files."""
    wanted = {link.path: link for link in desired}
    blocked = sorted(path for path in wanted if path in existing.others)
    if blocked:
        shown = ", ".join(blocked[:5]) + (f" and {len(blocked) - 5} more" if len(blocked) > 5 else "")
        raise SequenceError(
            f"{len(blocked)} real file(s) where links should go, not overwritten: {shown}; "
            "move them away and rerun"
        )
    create = tuple(link for path, link in wanted.items() if path not in existing.links)
    update = tuple(
        link
        for path, link in wanted.items()
        if path in existing.links and existing.links[path] != link.target
    )
    remove = tuple(sorted(path for path in existing.links if path not in wanted))
    return TreeChanges(create, update, remove, len(wanted) - len(create) - len(update))


def apply_links(output_dir: Path, changes: TreeChanges) -> None:
    """Make the links of `changes`; a repaired link is replaced in one rename, never left missing."""
    for link in changes.create:
        path = output_dir / link.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(link.target)
    for link in changes.update:
        path = output_dir / link.path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(link.target)
        os.replace(tmp, path)
    for relative in changes.remove:
        (output_dir / relative).unlink()


def voxel_path(output_dir: Path, voxel_folder: str, frame: str) -> Path:
    return output_dir / voxel_folder / f"{frame}{VOXEL_SUFFIX}"


def remove_voxels(output_dir: Path, voxel_folder: str, frames: Iterable[str]) -> None:
    for frame in frames:
        voxel_path(output_dir, voxel_folder, frame).unlink(missing_ok=True)


def prune_empty(output_dir: Path, folders: Iterable[str], state_file: str, keep_state: bool) -> None:
    """Remove managed folders left empty, and the sequence folder itself once nothing of it remains."""
    for folder in folders:
        path = output_dir / folder
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
    if not keep_state:
        (output_dir / state_file).unlink(missing_ok=True)
    if output_dir.is_dir() and not any(output_dir.iterdir()):
        output_dir.rmdir()
