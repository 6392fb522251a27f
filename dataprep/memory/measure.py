"""Measuring a piece of work's peak RSS in a fresh interpreter, so nothing a previous run allocated is counted.

The child reports its own high-water mark (`VmHWM`; `ru_maxrss` would also count the parent's memory at
fork). Its output goes to temporary files, so a chatty child never blocks on a full pipe; a child that fails
is one error carrying its last line (the whole output goes to the log).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import IO, Any, NamedTuple

from dataprep.errors import DataprepError

logger = logging.getLogger(__name__)


class Child(NamedTuple):
    process: subprocess.Popen[bytes]
    out: IO[str]
    err: IO[str]


def spawn(args: Sequence[str]) -> Child:
    """`python ARGS` in a fresh interpreter, its stdout and stderr in temporary files (closed by `wait_json`)."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by wait_json
    return Child(subprocess.Popen([sys.executable, *args], stdout=out, stderr=err), out, err)


def wait_json(child: Child) -> dict[str, Any]:
    """The JSON object a finished child printed last; an error with its stderr when it failed."""
    code = child.process.wait()
    texts = []
    for stream in (child.out, child.err):
        stream.seek(0)
        texts.append(stream.read())
        stream.close()
    if code != 0:  # the whole output (a traceback, the spec) goes to the log; the console gets the last line
        logger.info("measured process %s failed (exit %d):\n%s", child.process.args, code, texts[1])
        last = texts[1].strip().splitlines()[-1:] or ["no output"]
        raise DataprepError(f"measured process failed (exit {code}): {last[0]}")
    result: dict[str, Any] = json.loads(texts[0].strip().splitlines()[-1])
    return result


# Appended to measured code: the child's own high-water mark (see snapshot.peak_rss), read without imports
_REPORT_PEAK = """
import json as _json
with open("/proc/self/status") as _status:
    print(_json.dumps({"peak_rss": next(int(l.split()[1]) * 1024 for l in _status if l.startswith("VmHWM:"))}))
"""


def measure_python(code: str) -> int:
    """Run `code` in a fresh interpreter; its peak RSS (bytes). Linux only (reads /proc/self/status)."""
    return int(wait_json(spawn(["-c", code + _REPORT_PEAK]))["peak_rss"])
