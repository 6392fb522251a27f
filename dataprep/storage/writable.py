"""Checking, before any work starts, that a run can write where it is told to."""

from __future__ import annotations

import os
from pathlib import Path

from dataprep.errors import RunError


def ensure_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be written in it; a `RunError` naming it if not.

    Checked once, at the start of a run, so a read-only or full output fails in a second with one message
    instead of once per unit of work after hours of reading.
    """
    folder = Path(folder)
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise RunError(f"output folder {folder} is not writable ({err.strerror or err}): make it writable or "
                       f"choose another output folder, then rerun") from err
