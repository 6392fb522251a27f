"""Helpers every stage needs: atomic files (temp name, fsync, rename into place), completion markers written
after their data is durable, input expansion that opens only regular files, source fingerprints, the check
that an output folder can be written at all, and the lock that keeps a second run off an output."""

from dataprep.storage.atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_json_if_changed
from dataprep.storage.fingerprint import Fingerprint
from dataprep.storage.inputs import Expansion, Rejected, expand_inputs
from dataprep.storage.lock import LockHolder, OutputLockedError, output_lock
from dataprep.storage.markers import write_marker
from dataprep.storage.writable import ensure_writable

__all__ = [
    "Expansion",
    "Fingerprint",
    "LockHolder",
    "OutputLockedError",
    "Rejected",
    "atomic_path",
    "ensure_writable",
    "expand_inputs",
    "output_lock",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_json_if_changed",
    "write_marker",
]
