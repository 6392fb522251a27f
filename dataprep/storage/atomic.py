"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one.

Each write goes to a hidden temporary name in the destination's folder (same filesystem, so the final
`os.replace` is one rename), is flushed to disk, and only then renamed over the destination. A failure on
the way removes the temporary file and leaves the destination as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; write it inside the block, it becomes `dest` on success.

    The caller writes the file by any means (h5py, numpy, PyAV); it is fsynced and renamed after the block.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.tmp"
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(dest: Path, data: Any, indent: int = 2) -> None:
    write_bytes_atomic(dest, (json.dumps(data, indent=indent, ensure_ascii=False) + "\n").encode())


def write_json_if_changed(dest: Path, data: Any, indent: int = 2) -> bool:
    """Write `dest` atomically unless it already holds exactly this JSON; whether it wrote.

    A rerun that changes nothing then leaves the file (and its mtime) alone, so a read-only sync of an output
    folder, or a backup, sees no change.
    """
    encoded = (json.dumps(data, indent=indent, ensure_ascii=False) + "\n").encode()
    try:
        if dest.read_bytes() == encoded:
            return False
    except OSError:
        pass  # absent or unreadable: write it
    write_bytes_atomic(dest, encoded)
    return True


def fsync_path(path: Path | str) -> None:
    """Flush a file to disk, or a folder's entries (the files created and renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

