"""Worker processes that end with the run that started them, however it ends (SIGKILL included).

A pool's workers are forked by the forkserver, not by the run, so the kernel's parent-death signal alone
(`prctl(PR_SET_PDEATHSIG)`) would tie them to the forkserver, which outlives a killed run. So each worker
(and the forkserver itself, when this module is its preload) asks for SIGKILL when its parent dies, and a
daemon thread checks every half second that the run's process is still the one that started it (PID and
start time, so a reused PID does not count): when it is gone, the worker kills itself at once. A survivor
would otherwise go on converting without the dataset's lock while a rerun converts the same bags.

The run's PID travels in `RUN_PID_ENV`, so workers started by other runners (Prefect's process pool, a local
Dask cluster's nanny) can bind themselves on their first unit (`bind_to_run`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading

import psutil

logger = logging.getLogger(__name__)

RUN_PID_ENV = "DATAPREP_RUN_PID"
_PR_SET_PDEATHSIG = 1
_POLL_S = 0.5
_bound: list[int] = []  # the run this process is bound to (one per process)


def _set_parent_death_signal() -> None:
    """SIGKILL when the parent dies (Linux; elsewhere only the liveness thread works)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _watch(pid: int, started: float) -> None:
    while True:
        threading.Event().wait(_POLL_S)
        if _start_time(pid) != started:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup: the rerun's claim and staging checks recover


def bind_to_run(run_pid: int | None = None) -> None:
    """Tie this process's life to the run `run_pid` (default: `RUN_PID_ENV`); once per process, and a no-op in
    the run's own process or with no run named.

    Given `run_pid` (a pool initializer, whose parent is the forkserver) the kernel's parent-death signal is
    set too. Bound from the environment (a task in a worker some other runner started from one of the run's
    threads) only the liveness thread watches: the kernel sends that signal when the parent *thread* ends,
    which for such a worker may be long before the run does.
    """
    pid = run_pid if run_pid is not None else int(os.environ.get(RUN_PID_ENV) or 0)
    if not pid or pid == os.getpid() or _bound:
        return
    parent = os.getppid()
    if run_pid is not None:
        _set_parent_death_signal()
    started = _start_time(pid)
    if started is None or os.getppid() != parent:  # the run (or our parent) died before the signal was set
        os.kill(os.getpid(), signal.SIGKILL)
    _bound.append(pid)
    threading.Thread(target=_watch, args=(pid, started), name="run-lifeline", daemon=True).start()


def mark_run() -> None:
    """Name this process as the run, for every worker it starts from now on."""
    os.environ[RUN_PID_ENV] = str(os.getpid())


if __name__ != "__main__" and os.environ.get(RUN_PID_ENV) == str(os.getppid()):
    # Imported as the forkserver's preload, in a process the run started directly: die with the run. No
    # thread here (the forkserver forks), only the kernel's signal; its workers bind themselves.
    _set_parent_death_signal()

__all__ = ["RUN_PID_ENV", "bind_to_run", "mark_run"]
