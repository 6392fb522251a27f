"""Named points where a test can kill the process, to prove that a rerun recovers from a crash there.

`crash_point("name")` does nothing unless the environment variable `DATAPREP_CRASH_AT` equals the name: then
the process sends itself SIGKILL, which no handler, `finally` or atexit sees, exactly as a power cut or the
OOM killer would. Tests run a conversion in a subprocess with that variable set, then rerun it.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "DATAPREP_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, at once and without cleanup, when the test environment asks for it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
