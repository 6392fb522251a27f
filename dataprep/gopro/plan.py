"""What the prepared tree should hold, decided from listings alone (pure: no disk access).

Two levels: `plan_jobs` turns the sequence names found in each root (and in the output) into one job per
sequence, and `plan_frames` + `plan_links` turn one sequence's file listings into the frames kept, the frames
left out (with the reason) and the links that should exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

GOPRO_ROOT_KEY = "gopro_root"
SPIKE_ROOT_KEY = "spike_root"


def sequence_name(split: str, sequence: str) -> str:
    """How a sequence is named in reports, logs and errors: `train/GOPR0372_07_00`."""
    return f"{split}/{sequence}"


class SequenceJob(NamedTuple):
    """One sequence to prepare; a root that lacks it is None and `reason` says why nothing is linked."""

    split: str
    sequence: str
    gopro_dir: Path | None
    spike_dir: Path | None
    output_dir: Path
    reason: str | None = None

    @property
    def name(self) -> str:
        return sequence_name(self.split, self.sequence)


class LeftOut(NamedTuple):
    """A frame not in the tree, and why (`missing in sharp`, `invalid spike: ...`)."""

    frame: str
    reason: str


class FramePlan(NamedTuple):
    frames: tuple[str, ...]
    left_out: tuple[LeftOut, ...]


class Link(NamedTuple):
    """`path` (relative to the sequence's output folder) should be a symlink holding `target`."""

    path: str
    target: str


def frame_order(frame: str) -> tuple[int, int, str]:
    """Numeric names in numeric order (they need not start at 0 or share a width), then the rest by name."""
    return (0, int(frame), frame) if frame.isdigit() else (1, 0, frame)


def plan_jobs(
    split: str,
    gopro: Iterable[str],
    spike: Iterable[str],
    output: Iterable[str],
    gopro_split: Path,
    spike_split: Path,
    output_split: Path,
) -> list[SequenceJob]:
    """One job per sequence found in either root or already in the output (so vanished ones are cleaned)."""
    gopro_set, spike_set = set(gopro), set(spike)
    jobs = []
    for sequence in sorted(gopro_set | spike_set | set(output), key=frame_order):
        in_gopro, in_spike = sequence in gopro_set, sequence in spike_set
        reason = None
        if not in_gopro and not in_spike:
            reason = "no longer in gopro_root or spike_root"
        elif not in_spike:
            reason = f"only in {GOPRO_ROOT_KEY}"
        elif not in_gopro:
            reason = f"only in {SPIKE_ROOT_KEY}"
        jobs.append(
            SequenceJob(
                split,
                sequence,
                gopro_split / sequence if in_gopro else None,
                spike_split / sequence if in_spike else None,
                output_split / sequence,
                reason,
            )
        )
    return jobs


def plan_frames(files: Mapping[str, Mapping[str, str]], invalid: Mapping[str, str]) -> FramePlan:
    """Frames present in every folder of `files` and not `invalid` (frame -> problem of its spike file).

    `files` maps each required folder (sources and the spike folder) to its frames (frame -> file name).
    """
    every = set().union(*(set(names) for names in files.values()))
    kept, left_out = [], []
    for frame in sorted(every, key=frame_order):
        missing = [folder for folder, names in files.items() if frame not in names]
        if missing:
            left_out.append(LeftOut(frame, f"missing in {', '.join(missing)}"))
        elif frame in invalid:
            left_out.append(LeftOut(frame, f"invalid spike: {invalid[frame]}"))
        else:
            kept.append(frame)
    return FramePlan(tuple(kept), tuple(left_out))


def link_name(frame: str, file_name: str) -> str:
    """Links are named `<frame><suffix of the file>`, whatever the file's own name pattern."""
    return frame + "".join(Path(file_name).suffixes[-1:])


def plan_links(
    frames: Iterable[str],
    files: Mapping[str, Mapping[str, str]],
    source_dirs: Mapping[str, Path],
    output_dir: Path,
    relative: bool,
) -> tuple[Link, ...]:
    """The links of the kept frames: `<folder>/<frame><suffix>` -> the raw file, relative or absolute.

    `source_dirs` holds the raw folder of each output folder; paths must be absolute (resolved for relative
    links, so `..` steps are those of the real filesystem).
    """
    links = []
    for folder, names in files.items():
        link_dir = output_dir / folder
        for frame in frames:
            target = source_dirs[folder] / names[frame]
            text = os.path.relpath(target, link_dir) if relative else str(target)
            links.append(Link(f"{folder}/{link_name(frame, names[frame])}", text))
    return tuple(links)
