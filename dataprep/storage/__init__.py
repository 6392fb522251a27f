"""Helpers every stage needs to write safely: atomic files (temp name, fsync, rename into place), the check
that an output folder can be written at all, and the lock that keeps a second run off an output."""

from dataprep.storage.atomic import atomic_path, write_bytes_atomic, write_json_atomic
from dataprep.storage.lock import LockHolder, OutputLockedError, output_lock
from dataprep.storage.writable import ensure_writable

__all__ = [
    "LockHolder",
    "OutputLockedError",
    "atomic_path",
    "ensure_writable",
    "output_lock",
    "write_bytes_atomic",
    "write_json_atomic",
]
