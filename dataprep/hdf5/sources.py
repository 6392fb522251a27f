"""Finding the HDF5 files a configuration names, and opening them read-only with clear errors.

A file is identified by (resolved path, size, mtime): a rerun rescans a file only when one of them changed.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py

from dataprep.hdf5.errors import Hdf5Error

SUFFIXES = (".h5", ".hdf5", ".he5")


@dataclass(frozen=True)
class FileIdentity:
    """What decides whether a stored scan of a file is still valid."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        try:
            stat = path.stat()
        except OSError as err:
            raise Hdf5Error(f"{path}: cannot stat: {err.strerror}") from err
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _in_folder(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES)


def find_files(patterns: Iterable[str]) -> list[Path]:
    """Expand files, folders (searched recursively for .h5/.hdf5/.he5) and globs into sorted distinct files.

    A pattern that matches nothing is an error naming it, so a typo never yields an empty index.
    """
    found: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            # Path.glob takes no absolute pattern; users give absolute ones
            matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]  # noqa: PTH207
            files = [f for m in matches for f in (_in_folder(m) if m.is_dir() else [m])]
            if not files:
                raise Hdf5Error(f"no HDF5 file matches {pattern!r}")
        else:
            path = Path(pattern)
            if not path.exists():
                raise Hdf5Error(f"source path {path} does not exist")
            files = _in_folder(path) if path.is_dir() else [path]
            if not files:
                raise Hdf5Error(f"folder {path} holds no HDF5 file ({', '.join(SUFFIXES)})")
        found.extend(files)
    return sorted({f.resolve(): f for f in found}.values(), key=str)


def open_source(path: Path | str) -> h5py.File:
    """Open read-only; a file another process holds open for writing is named as locked, not as corrupt."""
    try:
        return h5py.File(path, "r")
    except BlockingIOError as err:
        raise Hdf5Error(f"{path}: locked (open for writing by another process or handle); "
                        "close the writer and rerun") from err
    except OSError as err:
        if "lock" in str(err).lower():
            raise Hdf5Error(f"{path}: locked (open for writing by another process or handle); "
                            "close the writer and rerun") from err
        raise Hdf5Error(f"{path}: unreadable as HDF5 ({err})") from err
