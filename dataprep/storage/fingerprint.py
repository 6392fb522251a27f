"""What identifies a version of a source file without reading it: its size and modification time.

Every stage that skips unchanged work keys it on this (a staged bag's key, an HDF5 file's stored scan, a GoPro
sequence's spike checks): a file rewritten in place or replaced gets a new fingerprint, so its work is redone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class Fingerprint(NamedTuple):
    """Size (bytes) and modification time (ns) of one file, through links."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path | str) -> Fingerprint:
        """Raises OSError (the caller names the file and the stage) when the file cannot be stat'ed."""
        info = os.stat(path)  # noqa: PTH116 - str paths from stored records as well as Paths
        return cls(info.st_size, info.st_mtime_ns)

    def stamp(self, name: str) -> str:
        """`name:size:mtime_ns`: one file's part of a key made of several files."""
        return f"{name}:{self.size}:{self.mtime_ns}"
