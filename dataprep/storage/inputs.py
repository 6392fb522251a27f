"""Expanding the inputs a configuration names (files, folders, glob patterns) into the paths a stage opens.

One walk for every stage (bags, HDF5 files, GoPro frames), with one rule: only regular files and the folders a
stage reads as one unit (a rosbag2 folder) are ever opened. Everything else that looks like an input is a
`Rejected` path with its reason, never a hang or a run-wide error: a FIFO (opening it blocks forever), a
socket or device, a symlink loop, a dangling link, a folder named like an input that holds none. The stage
reports each rejected path as that path's failure, so `skip` lists it and `fail` fails the run with it.

What a pattern itself gets wrong (a URL, a path that does not exist, a glob that matches nothing) is an
`InputError` naming the pattern: a typo must never yield an empty dataset. Paths are normalised once here
(`a/../a/x.bag` is `a/x.bag`) and listed once, by the file they lead to.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from dataprep.errors import DataprepError

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# Accepts a candidate folder as one unit ("unit"), says why it looks like one but is not (a reason), or lets the
# walk go into it (None).
FolderRule = Callable[[Path], "Literal['unit'] | str | None"]


class InputError(DataprepError):
    """A configured input pattern is unusable as a whole (a URL, missing, matches nothing)."""


class Rejected(NamedTuple):
    """An input path that is not opened, and why (what the user reads in the stage's failures)."""

    path: Path
    reason: str

    def describe(self) -> str:
        return f"{self.path}: {self.reason}"


class Expansion(NamedTuple):
    """The paths to open, sorted and distinct, and the paths rejected with their reasons."""

    found: tuple[Path, ...]
    rejected: tuple[Rejected, ...]


@dataclass(frozen=True)
class InputKind:
    """What one stage reads: which file names are its inputs, and which folders it reads as one unit."""

    what: str  # "bag", "HDF5 file": named in every message
    matches: Callable[[str], bool]  # a file (or folder) name that is meant as an input
    folder_rule: FolderRule | None = None  # None: folders are only searched
    expected: str = ""  # what the stage accepts, for "holds no ..." messages
    error: type[DataprepError] = InputError  # the stage's own error class for a pattern that is unusable
    path_name: str = "input path"  # how a configured path is called: "bag path", "source path"


_SPECIAL = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device"}


def normalised(path: str | os.PathLike[str]) -> Path:
    """The path with `.` and `..` steps folded (`bags/../bags/x.bag` -> `bags/x.bag`); not resolved."""
    return Path(os.path.normpath(path))


def entry_kind(path: Path) -> Literal["file", "folder"] | str:
    """"file" (a regular file, through links), "folder", or why the path cannot be opened as an input."""
    try:
        info = path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symlink loop (links that lead to each other, never to a file); remove or fix them"
        if path.is_symlink():
            return f"a dangling symlink (to {path.readlink()}, which does not exist); remove or fix the link"
        return f"cannot be read ({err.strerror})"
    if stat.S_ISREG(info.st_mode):
        return "file"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    kind = _SPECIAL.get(stat.S_IFMT(info.st_mode), "not a regular file")
    return f"{kind}, not a regular file: only regular files are read; move it out of the input"


def real_path(path: Path) -> Path:
    """What two spellings of one input share: the resolved path; the absolute one where nothing real is there
    to resolve to (a dangling link, or a symlink loop, which `Path.resolve` raises RuntimeError on)."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return path.absolute()


class _Walk:
    def __init__(self, kind: InputKind) -> None:
        self.kind = kind
        self.found: list[Path] = []
        self.rejected: list[Rejected] = []

    def candidate(self, path: Path, *, given: bool) -> None:
        """One path named by a pattern or met in a folder: found, rejected, or searched (a plain folder)."""
        named = self.kind.matches(path.name)
        what = entry_kind(path)
        if what == "file":
            if named:
                self.found.append(path)
            elif given:
                raise self.kind.error(f"{path} is not a {self.kind.what} (expected {self.kind.expected})")
        elif what == "folder":
            self._folder(path, named=named, ancestors=())
        elif named or given:
            self.rejected.append(Rejected(path, what))

    def _folder(self, folder: Path, *, named: bool, ancestors: tuple[Path, ...]) -> None:
        rule = self.kind.folder_rule(folder) if self.kind.folder_rule else None
        if rule == "unit":
            self.found.append(folder)
            return
        if rule is not None:
            self.rejected.append(Rejected(folder, rule))
            return
        if named:
            self.rejected.append(Rejected(folder, f"a folder named like a {self.kind.what} that is not one "
                                          f"({self.kind.expected}); remove or rename it"))
            return
        real = real_path(folder)
        if any(above.is_relative_to(real) for above in ancestors):
            self.rejected.append(Rejected(folder, f"a symlink loop (leads back to {real}, which holds it); "
                                          "remove or fix the link"))
            return
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError as err:
            self.rejected.append(Rejected(folder, f"cannot list the folder ({err.strerror})"))
            return
        for name in names:
            child = folder / name
            what = entry_kind(child)
            if what == "folder":
                self._folder(child, named=self.kind.matches(name), ancestors=(*ancestors, real))
            elif what == "file":
                if self.kind.matches(name):
                    self.found.append(child)
            elif self.kind.matches(name) or child.is_symlink():
                self.rejected.append(Rejected(child, what))


def expand_inputs(patterns: Iterable[str], kind: InputKind) -> Expansion:
    """Files, folders (searched recursively) and glob patterns -> the inputs to open and the ones rejected.

    Raises `kind.error` naming a pattern that is a URL, does not exist, or matches nothing at all.
    """
    walk = _Walk(kind)
    for pattern in patterns:
        if URL.match(pattern):
            raise kind.error(f"{kind.path_name} {pattern!r} is a URL; only local paths are read: download it "
                             f"first (e.g. `curl -LO {pattern}`) and give the downloaded path")
        before = len(walk.found) + len(walk.rejected)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207 - users give absolute patterns
            for match in matches:
                walk.candidate(normalised(match), given=False)
            if len(walk.found) + len(walk.rejected) == before:
                raise kind.error(f"no {kind.what} matches {pattern!r}")
            continue
        path = normalised(pattern)
        if not path.exists() and not path.is_symlink():
            raise kind.error(f"{kind.path_name} {path} does not exist")
        walk.candidate(path, given=True)
        if len(walk.found) + len(walk.rejected) == before:
            raise kind.error(f"folder {path} holds no {kind.what} ({kind.expected})")
    distinct: dict[Path, Path] = {}
    for path in sorted(walk.found, key=str):
        distinct.setdefault(real_path(path), path)
    rejected = {r.path: r for r in walk.rejected}
    return Expansion(tuple(sorted(distinct.values(), key=str)), tuple(sorted(rejected.values(), key=str)))
