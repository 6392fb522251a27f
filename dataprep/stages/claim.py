"""A unit's claim: an exclusive `flock` beside the unit's output, held while the unit writes it.

The dataset's lock keeps two runs apart; the claim keeps two *workers* apart even when one outlived its run
(a survivor of a killed run is killed by `lifeline`, but may still be exiting when the rerun starts). A
worker takes the unit's claim before writing and holds it to the end; one that finds it held waits, says
whose it is, and then goes on: the unit's own completion marker tells it whether the other finished the
work. The kernel drops a `flock` when its holder dies, so a claim is never stale.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

CLAIM_SUFFIX = ".claim"


@contextmanager
def unit_claim(path: Path, what: str, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the claim at `path` for the block; waits up to `wait_s` for another holder, then raises
    `TimeoutError` naming it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            logger.warning("%s is still being written by PID %s (a worker of an earlier run, still exiting?): "
                           "waiting for it before writing it here", what, holder)
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{what}: PID {holder} held its claim {path} for over {wait_s:.0f} s; "
                                           f"stop that process and rerun") from None
                    time.sleep(0.1)
            logger.warning("%s: PID %s let go of it; taking it over", what, holder)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock; the file stays (removing it would race a waiter)


__all__ = ["CLAIM_SUFFIX", "unit_claim"]
