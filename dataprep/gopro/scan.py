"""Reading the raw roots: checks that fail before any work, the jobs of a run, one folder's frames.

Only listings and `stat` here; spike contents are read by the sequence tasks.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import NamedTuple

from dataprep.config.gopro import SECTION, GoproPrepareConfig
from dataprep.gopro.errors import GoproConfigError, SequenceError
from dataprep.gopro.plan import SequenceJob, frame_order, plan_jobs
from dataprep.gopro.spikes import SpikeGeometry, size_problem
from dataprep.storage.inputs import entry_kind

log = logging.getLogger(__name__)

RAW_ROOTS = ("gopro_root", "spike_root")


class PreparePlan(NamedTuple):
    splits: tuple[str, ...]
    jobs: tuple[SequenceJob, ...]


def child_dirs(path: Path) -> list[str]:
    """Names of the visible sub-folders of `path` (through links that lead to one; `broken_sequences` names
    the links that lead nowhere); none when it does not exist."""
    try:
        with os.scandir(path) as entries:
            names = [e.name for e in entries if not e.name.startswith(".")]
        return sorted(name for name in names if entry_kind(path / name) == "folder")
    except FileNotFoundError:
        return []
    except OSError as err:
        raise GoproConfigError(f"cannot list {path}: {err.strerror}") from err


def folder_frames(folder: Path, pattern: re.Pattern[str]) -> tuple[dict[str, str], dict[str, str]]:
    """A raw folder's frames (frame -> file name) and the frames left out (frame -> why): two files claiming
    one frame, or a file that is not a regular one (a FIFO would block the spike check forever, a dangling or
    looping link has nothing to link to; `dataprep.storage.inputs.entry_kind` names which).

    Names are matched whole against `pattern` (its `frame` group names the frame); hidden files are skipped
    and a missing folder has no frames.
    """
    frames: dict[str, str] = {}
    left_out: dict[str, str] = {}
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
    except FileNotFoundError:
        return frames, left_out
    except OSError as err:
        raise SequenceError(f"cannot list {folder}: {err.strerror}") from err
    for name in names:
        if (match := pattern.fullmatch(name)) is None:
            continue
        frame = match.group("frame")
        if frame in frames:
            left_out[frame] = f"two files in {folder.name}: {frames[frame]} and {name}"
        elif (what := entry_kind(folder / name)) != "file":
            left_out.setdefault(frame, f"{folder.name}/{name} is {what}")
            continue
        frames[frame] = name
    return frames, left_out


def broken_sequences(split: Path) -> dict[str, str]:
    """Sequence folders of a raw split that are links leading nowhere (dangling, or a loop): name -> why.

    `child_dirs` does not list them (they are no folders); they are reported instead of vanishing.
    """
    try:
        with os.scandir(split) as entries:
            links = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_symlink())
    except OSError:
        return {}
    found = {}
    for name in links:
        what = entry_kind(split / name)
        if what not in {"file", "folder"}:
            found[name] = f"{split / name} is {what}"
    return found


def check_inputs(config: GoproPrepareConfig) -> tuple[str, ...]:
    """Fail before any work on what the config says but the disk does not have; return the splits to run.

    Checks: each raw root is a folder; the output is not inside a raw root (or the other way round); the
    splits asked for exist; and the spike geometry matches the size of at least one spike file. The bundled
    sample (`generate_sample_if_missing`) is written before any stage runs (`dataprep.sample.write_missing_samples`).
    """
    output = config.output_root.resolve()
    for key in RAW_ROOTS:
        root: Path = getattr(config, key)
        if not root.is_dir():
            raise GoproConfigError(
                f"{SECTION}.{key}: {root} {'is not a folder' if root.exists() else 'does not exist'}"
            )
        resolved = root.resolve()
        if output.is_relative_to(resolved) or resolved.is_relative_to(output):
            raise GoproConfigError(
                f"{SECTION}.output_root: {config.output_root} overlaps {key} {root}; "
                "the raw roots are never written to, choose an output folder outside them"
            )
    found = sorted(set(child_dirs(config.gopro_root)) | set(child_dirs(config.spike_root)), key=frame_order)
    if config.splits is None:
        if not found:
            raise GoproConfigError(
                f"{SECTION}.gopro_root: no split folders in {config.gopro_root} or {config.spike_root}"
            )
        splits = tuple(found)
    else:
        missing = [split for split in config.splits if split not in found]
        if missing:
            raise GoproConfigError(
                f"{SECTION}.splits: {missing} not found in {config.gopro_root} or "
                f"{config.spike_root} (found: {found})"
            )
        splits = config.splits
    check_geometry(config, splits)
    return splits


def check_geometry(config: GoproPrepareConfig, splits: tuple[str, ...]) -> None:
    """At least one spike file must have the configured size: stat files until one does (stat only)."""
    geometry = SpikeGeometry.from_spec(config.spike)
    pattern = re.compile(config.layout.spike_pattern)
    first: tuple[Path, int] | None = None
    checked = 0
    for split in splits:
        for sequence in child_dirs(config.spike_root / split):
            folder = config.spike_root / split / sequence / config.layout.spike_folder
            frames, _ = folder_frames(folder, pattern)
            for name in frames.values():
                try:
                    size = (folder / name).stat().st_size
                except OSError:
                    continue
                if size_problem(size, geometry) is None:
                    return
                checked += 1
                first = first or (folder / name, size)
    if first is None:
        raise GoproConfigError(
            f"{SECTION}.layout.spike_pattern: no file matching {pattern.pattern!r} in "
            f"{config.spike_root}/<split>/<sequence>/{config.layout.spike_folder}/"
        )
    raise GoproConfigError(
        f"{SECTION}.spike: frames x height x width = {geometry.describe()} matches none of the {checked} "
        f"spike file(s); e.g. {first[0]} is {first[1]} bytes. Check spike.encoding, spike.frames, "
        "spike.height, spike.width"
    )


def plan_prepare(config: GoproPrepareConfig) -> PreparePlan:
    """Check the inputs, then one job per sequence of each split (in either root, or left in the output); a
    sequence folder that is a dangling or looping link is left out with the reason."""
    splits = check_inputs(config)
    jobs: list[SequenceJob] = []
    for split in splits:
        planned = plan_jobs(
            split,
            child_dirs(config.gopro_root / split),
            child_dirs(config.spike_root / split),
            child_dirs(config.output_root / split),
            config.gopro_root / split,
            config.spike_root / split,
            config.output_root / split,
        )
        broken = broken_sequences(config.gopro_root / split) | broken_sequences(config.spike_root / split)
        known = {job.sequence for job in planned}
        planned += [SequenceJob(split, name, None, None, config.output_root / split / name, reason)
                    for name, reason in broken.items() if name not in known]
        jobs += sorted((job._replace(gopro_dir=None, spike_dir=None, reason=broken[job.sequence])
                        if job.sequence in broken else job for job in planned),
                       key=lambda job: frame_order(job.sequence))
    return PreparePlan(splits, tuple(jobs))
