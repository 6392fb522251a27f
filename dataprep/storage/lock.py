"""One writer per output: a lock file that refuses a second run at once and survives its holder's death.

The lock is an exclusive `flock` on a small file that also names its holder (host, PID, start time, command).
The kernel releases a `flock` when its holder dies, however it dies (SIGKILL included), so a lock found free
is free: a holder record still in the file is what a killed run left, and is taken over (and logged). A lock
found held is refused at once with the holder's name, never waited on: two runs writing one dataset delete
each other's work, and waiting hours behind a nightly run is rarely what the person at the terminal wants.

The file stays in place on release (emptied): removing it would let a run that opened it just before lock a
file nobody else can see any more. The descriptor is close-on-exec, so worker processes never inherit it.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from dataprep.errors import RunError

logger = logging.getLogger(__name__)

LOCK_FOLDER = ".locks"  # beside the datasets, under the output root


def dataset_lock_path(output_root: Path, repo_id: str) -> Path:
    """The lock every run writing dataset `repo_id` under `output_root` holds (conversion, edits, compaction)."""
    return output_root / LOCK_FOLDER / f"{repo_id}.lock"


def dataset_folder_lock_path(root: Path) -> Path:
    """The same lock, found from the dataset folder `<output_root>/<owner>/<name>` (edits and compaction take a
    folder, not a configuration)."""
    root = Path(root).absolute()
    return dataset_lock_path(root.parent.parent, f"{root.parent.name}/{root.name}")


class OutputLockedError(RunError):
    """Another run holds the output's lock; the message names it and the lock file."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a lock, as written in the lock file."""

    host: str
    pid: int
    started: str  # ISO 8601, UTC
    command: str = ""

    def describe(self) -> str:
        return f"host {self.host}, PID {self.pid}, started {self.started}" + \
            (f", command `{self.command}`" if self.command else "")

    def gone(self) -> str:
        """Why a free lock still names this holder, as far as this host can tell."""
        if self.host == socket.gethostname() and not psutil.pid_exists(self.pid):
            return f"PID {self.pid} is no longer running on {self.host}"
        return "it no longer holds the lock (killed, or its host lost it)"

    @classmethod
    def current(cls) -> LockHolder:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return cls(socket.gethostname(), os.getpid(), now, " ".join(sys.argv)[:200])


def _read_holder(fd: int) -> LockHolder | None:
    """The record in the lock file; None when empty or unreadable (a holder killed mid-write)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "null")
        return LockHolder(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def output_lock(path: Path, what: str) -> Iterator[LockHolder]:
    """Hold the lock at `path` for the block, for writing `what` (named in the refusal).

    Raises `OutputLockedError` at once when another run holds it; takes over a lock left by a dead run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        who = holder.describe() if holder else "a run that has not written its name yet"
        raise OutputLockedError(
            f"{what} is being written by another run ({who}; lock file {path}): wait for it to finish "
            f"or stop it, then rerun") from None
    except BaseException:
        os.close(fd)
        raise
    previous = _read_holder(fd)
    if previous is not None:
        logger.warning("taking over the lock of %s (%s) left by a run that ended without releasing it: %s; %s",
                       what, path, previous.describe(), previous.gone())
    holder = LockHolder.current()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)
        logger.info("locked %s for this run (%s)", what, path)
        yield holder
    finally:
        with contextlib.suppress(OSError):  # a full disk cannot stop the release: the record is only a name
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
