"""Helpers every stage needs to write safely: atomic files (temp name, fsync, rename into place), and the
check that an output folder can be written at all."""

from dataprep.storage.atomic import atomic_path, write_bytes_atomic, write_json_atomic
from dataprep.storage.writable import ensure_writable

__all__ = ["atomic_path", "ensure_writable", "write_bytes_atomic", "write_json_atomic"]
