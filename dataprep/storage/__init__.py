"""Helpers every stage needs to write safely: atomic files (temp name, fsync, rename into place)."""

from dataprep.storage.atomic import atomic_path, write_bytes_atomic, write_json_atomic

__all__ = ["atomic_path", "write_bytes_atomic", "write_json_atomic"]
