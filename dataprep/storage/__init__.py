"""Helpers every stage needs: atomic files (temp name, fsync, rename into place), completion markers written
after their data is durable, input expansion that opens only regular files, source fingerprints, and the lock
that keeps a second run off an output.

Cheap to import (no numpy, pyarrow or av): configuration-level code and `lerobot/info.py` use it. Pieces only
one stage needs are imported from their modules: `storage.lock.LockHolder`, `storage.inputs.Rejected`,
`storage.writable.ensure_writable`, `storage.swap`, `storage.crashpoints`.
"""

from dataprep.storage.atomic import atomic_path, write_bytes_atomic, write_json_atomic, write_json_if_changed
from dataprep.storage.fingerprint import Fingerprint
from dataprep.storage.inputs import Expansion, expand_inputs
from dataprep.storage.lock import OutputLockedError, output_lock
from dataprep.storage.markers import write_marker

__all__ = [
    "Expansion",
    "Fingerprint",
    "OutputLockedError",
    "atomic_path",
    "expand_inputs",
    "output_lock",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_json_if_changed",
    "write_marker",
]
