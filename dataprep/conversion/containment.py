"""Turning whatever goes wrong inside one bag into that bag's named failure, or into a run-level error.

Real bags fail in ways no check foresees: rosbags' readers raise `UnicodeDecodeError` on a file that is not a
bag and `AssertionError` on a damaged index, numpy raises `IndexError`, codecs and the disk raise `OSError`.
None of these may end a run with a bare traceback or cost the other bags. `contained_failure` decides, from
the exception and its causes, whether the bag alone failed (a `BagError` naming the bag, where in it, and the
cause in words), whether the whole run cannot go on (`RunError`: the output cannot be written, the disk is
full), or whether a second attempt may succeed (`TransientError`). The original exception stays chained, so
the traceback reaches the logs.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from collections.abc import Iterator
from pathlib import Path

from dataprep.errors import DataprepError, RunError, TransientError
from dataprep.rosbag import BagError

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_TRANSIENT = {errno.EIO, errno.ETIMEDOUT, errno.ESTALE, errno.EAGAIN, errno.ECONNRESET}


def _chain(err: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (cycles cut)."""
    seen: list[BaseException] = []
    node: BaseException | None = err
    while node is not None and node not in seen:
        seen.append(node)
        node = node.__cause__ or node.__context__
    return seen


def _raised_in_rosbags(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("rosbags."):
            return True
        tb = tb.tb_next
    return False


def _is_under(path: str | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def run_level_error(err: BaseException, output_root: Path) -> RunError | None:
    """A `RunError` when `err` (or a cause) means nothing more can be written under `output_root`."""
    for node in _chain(err):
        if isinstance(node, RunError):
            return node
        if not isinstance(node, OSError):
            continue
        where = node.filename or output_root
        if node.errno in _DISK_FULL or "No space left on device" in str(node):  # pyarrow's carry no errno
            return RunError(f"disk full while writing {where}: free space on that disk (or point output_root "
                            f"elsewhere) and rerun; bags already converted stay staged and are not read again")
        if node.errno in _NOT_WRITABLE and (not node.filename or _is_under(node.filename, output_root)):
            return RunError(f"cannot write {where} ({node.strerror}): make {output_root} writable or set "
                            f"output_root to a folder you can write, then rerun")
    return None


@contextlib.contextmanager
def run_level_errors(output_root: Path) -> Iterator[None]:
    """Inside: an exception that means the output cannot take more comes out as that `RunError`."""
    try:
        yield
    except Exception as err:
        run_error = run_level_error(err, output_root)
        if run_error is None or run_error is err:
            raise
        raise run_error from err


def _cause_in_words(err: BaseException) -> str:
    if isinstance(err, UnicodeDecodeError) and _raised_in_rosbags(err):
        return "the file is not a bag, or its header is damaged (its first bytes are not a bag's text header)"
    if isinstance(err, (AssertionError, struct.error, IndexError, KeyError)) and _raised_in_rosbags(err):
        return (f"the bag is damaged: rosbags' reader found its index or records inconsistent "
                f"({type(err).__name__}{': ' + str(err) if str(err) else ''}); a cut-off or overwritten recording "
                f"may be recovered with ROS1's `rosbag reindex` or `ros2 bag reindex`")
    if isinstance(err, MemoryError):
        return "out of memory (lower chunk_size or the camera resize, or convert fewer bags at once)"
    if isinstance(err, OSError):
        target = f" {err.filename}" if err.filename else ""
        return f"I/O error{target}: {err.strerror or err}"
    return f"unexpected {type(err).__name__}: {err} (the traceback is in the log)"


def contained_failure(err: BaseException, bag: Path, output_root: Path, where: str = "") -> DataprepError:
    """What `err`, raised while converting `bag`, means for the run; `where` names topic, field or time."""
    run_error = run_level_error(err, output_root)
    if run_error is not None:
        return run_error
    if isinstance(err, DataprepError):
        return err
    place = f": {where}" if where else ""
    message = f"bag {bag}{place}: {_cause_in_words(err)}"
    if isinstance(err, OSError) and err.errno in _TRANSIENT:
        return TransientError(message)
    return BagError(message)
