"""Finding the HDF5 files a configuration names, and opening them read-only with clear errors.

A file is identified by (resolved path, size, mtime): a rerun rescans a file only when one of them changed.
The walk is the one every stage shares (`dataprep.storage.inputs`): a FIFO, a symlink loop or a folder named
`x.h5` is rejected with its reason and becomes that file's failure, never a hang.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py

from dataprep.hdf5.errors import Hdf5Error
from dataprep.storage.fingerprint import Fingerprint
from dataprep.storage.inputs import Expansion, InputKind, expand_inputs

SUFFIXES = (".h5", ".hdf5", ".he5")
LOCK_WORDS = re.compile(r"\block", re.IGNORECASE)
LOCKED_HINT = "locked (open for writing by another process or handle); close the writer and rerun"


@dataclass(frozen=True)
class FileIdentity:
    """What decides whether a stored scan of a file is still valid."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        try:
            size, mtime_ns = Fingerprint.of(path)
        except OSError as err:
            raise Hdf5Error(f"{path}: cannot stat: {err.strerror}") from err
        return cls(str(path.resolve()), size, mtime_ns)


HDF5_FILES = InputKind("HDF5 file", lambda name: Path(name).suffix in SUFFIXES, None, ", ".join(SUFFIXES), Hdf5Error,
                       "source path")


def expand_files(patterns: Iterable[str]) -> Expansion:
    """Files, folders (searched recursively for .h5/.hdf5/.he5) and globs -> the files to open (sorted,
    distinct) and the paths rejected with their reasons.

    A pattern that matches nothing is an error naming it, so a typo never yields an empty index.
    """
    return expand_inputs(patterns, HDF5_FILES)


def find_files(patterns: Iterable[str]) -> list[Path]:
    """The files `expand_files` would open (rejected paths left out: the stage reports them)."""
    return list(expand_files(patterns).found)


def open_source(path: Path | str) -> h5py.File:
    """Open read-only; a file another process holds open for writing is named as locked, a file cut short as
    truncated, anything else as unreadable (with h5py's words)."""
    try:
        return h5py.File(path, "r")
    except BlockingIOError as err:
        raise Hdf5Error(f"{path}: {LOCKED_HINT}") from err
    except OSError as err:
        text = str(err)
        if "truncated file" in text:
            raise Hdf5Error(f"{path}: truncated: the file is shorter than its header says ({text}); it was cut "
                            "off while being written or copied: copy or write it again") from err
        if LOCK_WORDS.search(text):  # "unable to lock file, errno = 11"; not the "sblock" of other messages
            raise Hdf5Error(f"{path}: {LOCKED_HINT}") from err
        raise Hdf5Error(f"{path}: unreadable as HDF5 ({err})") from err
