"""Turning whatever goes wrong inside one bag into that bag's named failure, or into a run-level error.

Real bags fail in ways no check foresees: rosbags' readers raise `UnicodeDecodeError` on a file that is not a
bag and `AssertionError` on a damaged index, numpy raises `IndexError`, codecs and the disk raise `OSError`.
None of these may end a run with a bare traceback or cost the other bags. `contained_failure` turns what one
bag raised into that bag's failure (a `BagError` naming the bag, where in it, and the cause in words), or a
`TransientError` when a second attempt may succeed. A full disk or a refused write while a bag converts is
that bag's failure too: with several bags converting at once, the others may well finish (a smaller bag, space
freed by a failed one's cleanup), and `on_bag_error` decides what the run does with the rest. Only what
concerns the whole dataset is a `RunError` (`run_level_error`): an output found read-only before any bag is
read, a disk that fills while the dataset is assembled. The original exception stays chained, so the
traceback reaches the logs.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from collections.abc import Iterator
from pathlib import Path

from dataprep.errors import DataprepError, RunError, TransientError
from dataprep.rosbag import BagError
from dataprep.stages.failure import causes, disk_full, with_kind

_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_TRANSIENT = {errno.EIO, errno.ETIMEDOUT, errno.ESTALE, errno.EAGAIN, errno.ECONNRESET}


def _chain(err: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (cycles cut)."""
    return list(causes(err))


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
    chain = _chain(err)
    if run_error := next((node for node in chain if isinstance(node, RunError)), None):
        return run_error
    if (full := disk_full(err)) is not None:
        return RunError(f"disk full while writing {full.filename or output_root}: free space on that disk (or point "
                        f"output_root elsewhere) and rerun; bags already converted stay staged and are not read again")
    for node in chain:
        if isinstance(node, OSError) and node.errno in _NOT_WRITABLE \
                and (not node.filename or _is_under(node.filename, output_root)):
            return RunError(f"cannot write {node.filename or output_root} ({node.strerror}): make {output_root} "
                            f"writable or set output_root to a folder you can write, then rerun")
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


def _foreseen(err: BaseException) -> bool:
    """Whether `err` is one of the failures a bag is known to cause (worded by `_cause_in_words`)."""
    return isinstance(err, (MemoryError, OSError)) or (
        isinstance(err, (UnicodeDecodeError, AssertionError, struct.error, IndexError, KeyError))
        and _raised_in_rosbags(err))


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
    """What `err`, raised while converting `bag`, means for the run; `where` names topic, field or time.

    Only a `RunError` raised as such passes through; every other failure is the bag's own.
    """
    place = f": {where}" if where else ""
    if (full := disk_full(err)) is not None:
        return with_kind(BagError(
            f"bag {bag}{place}: disk full while writing {full.filename or output_root}: free space on that disk (or "
            f"point output_root elsewhere) and rerun; this bag is converted again, the bags already staged are not"),
            "disk-full")
    if isinstance(err, DataprepError):
        return err
    message = f"bag {bag}{place}: {_cause_in_words(err)}"
    if isinstance(err, OSError) and err.errno in _TRANSIENT:
        return TransientError(message)
    return BagError(message) if _foreseen(err) else with_kind(BagError(message), "unexpected")
