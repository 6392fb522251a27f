"""Errors of the GoPro + spike stage; each names the file, sequence or configuration key at fault."""

from __future__ import annotations

from pathlib import Path

from dataprep.errors import DataprepError


class GoproError(DataprepError):
    """The GoPro/spike inputs or the output tree do not allow the preparation to go on."""


class GoproConfigError(GoproError):
    """The configuration does not fit what is on disk (a missing root, a geometry no file has)."""


class SpikeFileError(GoproError):
    """One spike file is invalid: wrong size, values outside {0, 1}, or unreadable."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # picklable across processes and Prefect results
        return type(self), (self.path, self.problem)


class SequenceError(GoproError):
    """One sequence cannot be prepared (e.g. a real file where a link should go); the others go on."""
