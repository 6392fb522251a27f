"""What a validation found: one `Finding` per problem, naming the file, episode and feature it concerns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem. `check` is a stable identifier (e.g. "video.span") that tools and tests can match on."""

    check: str
    file: str  # relative to the dataset root
    message: str
    episode: int | None = None
    feature: str | None = None
    warning: bool = False  # worth knowing, but lerobot reads the dataset as it is (e.g. an optional column missing)


@dataclass(frozen=True)
class ValidationReport:
    """The result of validating one dataset folder; `ok` when nothing was found."""

    root: Path
    findings: tuple[Finding, ...]
    episodes: int = 0  # what was checked, for the summary line
    frames: int = 0
    videos: int = 0
    checks: tuple[str, ...] = field(default=())  # every check that ran, found something or not

    @property
    def ok(self) -> bool:
        """Nothing found that lerobot would fail on; warnings do not count."""
        return not self.problems

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.warning)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.warning)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "ok": self.ok, "episodes": self.episodes, "frames": self.frames,
            "videos": self.videos, "checks": list(self.checks),
            "findings": [asdict(f) for f in self.findings],
        }  # fmt: skip

    def table(self) -> str:
        """A plain-text table for people: one line per finding, then a summary line."""
        summary = (
            f"{self.root}: {self.episodes} episode(s), {self.frames} frames, {self.videos} video file(s), "
            f"{len(self.checks)} checks: "
        )
        if not self.findings:
            return summary + "OK"
        rows = [("check", "file", "episode", "feature", "problem")]
        rows += [
            (f.check, f.file, "" if f.episode is None else str(f.episode), f.feature or "",
             f"warning: {f.message}" if f.warning else f.message)
            for f in self.findings
        ]
        verdict = f"{len(self.problems)} problem(s)" if self.problems else "OK"
        if self.warnings:
            verdict += f", {len(self.warnings)} warning(s)"
        return "\n".join([*_aligned(rows), summary + verdict])


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip() for row in rows]
