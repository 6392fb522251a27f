"""One record for a unit that failed, and one policy for what a unit's exception means.

Whatever a unit raises, a `DataprepError` or anything unforeseen, is that unit's failure: the other units go
on, and the stage's own setting (`on_bag_error` for conversion) decides at conclude whether the run fails or
leaves the unit out. Only what concerns the whole run stays run-wide: a `RunError` anywhere in the chain (an
output found unwritable, a dataset locked by another run) stops the run at once, with every executor.
The original exception goes to the log with its traceback; the record holds the message a person reads.
"""

from __future__ import annotations

import concurrent.futures
import errno
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dataprep.errors import DataprepError, RunError

logger = logging.getLogger(__name__)

FailureKind = Literal["bad-input", "transient", "disk-full", "interrupted", "unexpected"]

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
# What an executor raises for a unit whose worker died or was stopped mid-unit (Prefect's by name: no import).
_INTERRUPTED_NAMES = {"BrokenProcessPool", "BrokenExecutor", "CrashedRun", "CancelledRun", "TerminationSignal",
                      "KilledWorker"}
_HINTS: dict[str, str] = {
    "disk-full": "free space on that disk (or point the output elsewhere) and rerun",
    "interrupted": "its worker died before it finished (killed, or out of memory); a rerun does it again",
    "unexpected": "the traceback is in the log",
}


@dataclass(frozen=True)
class UnitFailure:
    """A unit (a bag, a sequence, a file) that failed: its name, what kind of failure, the message that names
    it and its cause, and what to do (empty where the message says it already)."""

    unit: str
    kind: FailureKind
    message: str
    hint: str = ""

    @classmethod
    def rejected(cls, path: Path | str, reason: str) -> UnitFailure:
        """A unit refused before it ran (an input that cannot be opened), from its path and the reason."""
        return cls(str(path), "bad-input", f"{path}: {reason}")

    @property
    def cause(self) -> str:
        """The message without the unit's name in front (where the unit is named already)."""
        for prefix in (f"bag {self.unit}: ", f"{self.unit}: "):
            if self.message.startswith(prefix):
                return self.message.removeprefix(prefix)
        return self.message

    def block(self) -> str:
        """The failure as the console shows it: the unit on its own line, the cause indented below."""
        return f"- {self.unit}\n    " + self.cause.replace("\n", "\n    ")

    def __str__(self) -> str:
        return self.message


def causes(err: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, outermost first (cycles cut)."""
    seen: list[BaseException] = []
    node: BaseException | None = err
    while node is not None and node not in seen:
        seen.append(node)
        yield node
        node = node.__cause__ or node.__context__


def disk_full(err: BaseException) -> OSError | None:
    """The disk-full error in `err`'s chain, if any (pyarrow's carry no errno, only the words)."""
    for node in causes(err):
        if isinstance(node, OSError) and (node.errno in _DISK_FULL or "No space left on device" in str(node)):
            return node
    return None


def interrupted(err: BaseException) -> bool:
    """Whether `err` says the unit's worker died or was stopped, rather than the unit failing on its own."""
    return any(isinstance(node, concurrent.futures.CancelledError) or type(node).__name__ in _INTERRUPTED_NAMES
               for node in causes(err))


_KIND_ATTRIBUTE = "unit_failure_kind"


def with_kind(err: DataprepError, kind: FailureKind) -> DataprepError:
    """`err` marked as a failure of `kind`: for a stage that words an unforeseen error or a full disk as its
    own `DataprepError`. The mark survives pickling, so a pool's or Prefect's copy keeps it."""
    setattr(err, _KIND_ATTRIBUTE, kind)
    return err


def failure_kind(err: BaseException) -> FailureKind:
    """What kind of failure `err` is: a stage's mark first, then what its chain says."""
    marked: FailureKind | None = next((getattr(node, _KIND_ATTRIBUTE) for node in causes(err)
                                       if hasattr(node, _KIND_ATTRIBUTE)), None)
    if marked is not None:
        return marked
    if interrupted(err):
        return "interrupted"
    if disk_full(err) is not None:
        return "disk-full"
    if isinstance(err, DataprepError):
        return "transient" if err.retryable else "bad-input"
    return "unexpected"


def run_error_in(err: BaseException) -> RunError | None:
    """The `RunError` in `err`'s chain: what stops the whole run rather than failing one unit."""
    return next((node for node in causes(err) if isinstance(node, RunError)), None)


def unit_failure(unit: str, err: BaseException, named: DataprepError | None = None) -> UnitFailure:
    """`err`, raised by the unit `unit`, as that unit's failure; `named` is the stage's own wording of it (a
    `DataprepError` naming the unit), else the message is built here. Raises the `RunError` when `err` is
    run-wide."""
    if (run_error := run_error_in(named or err)) is not None:
        raise run_error
    kind = failure_kind(named if named is not None and hasattr(named, _KIND_ATTRIBUTE) else err)
    if named is not None:
        message = str(named)
    elif isinstance(err, DataprepError):
        message = str(err)
    elif kind == "interrupted":
        message = f"{unit}: not finished: {_HINTS['interrupted']}"
    else:
        message = f"{unit}: unexpected {type(err).__name__}: {err} (the traceback is in the log)"
    if kind in {"unexpected", "interrupted"}:
        logger.error("%s failed", unit, exc_info=err)
    else:
        logger.warning("%s failed: %s", unit, message)
        logger.debug("%s failed", unit, exc_info=err)
    return UnitFailure(unit, kind, message, "" if _HINTS.get(kind, "") in message else _HINTS.get(kind, ""))


__all__ = ["FailureKind", "UnitFailure", "causes", "disk_full", "failure_kind", "interrupted", "run_error_in",
           "unit_failure", "with_kind"]
