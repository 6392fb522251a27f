"""Preparing one sequence (list, validate spikes, voxels, links), and the stage over every sequence
(`GoproStage`, the contract of `dataprep.stages`; `prepare_tree` runs it without Prefect).

Each sequence writes only its own output folder, so sequences run in parallel. A sequence keeps a small
state file of the spike files it checked (size, mtime, problem) and the voxel settings, so a rerun reads
only spike files that changed and writes only voxels that are missing or stale.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from typing_extensions import override

from dataprep.config.gopro import GoproPrepareConfig
from dataprep.gopro.errors import SequenceError, SpikeFileError
from dataprep.gopro.plan import LeftOut, SequenceJob, plan_frames, plan_links
from dataprep.gopro.report import PrepareReport, SequenceResult, raise_for_failures, write_report
from dataprep.gopro.scan import PreparePlan, folder_frames, plan_prepare
from dataprep.gopro.sizes import frame_size_problems
from dataprep.gopro.spikes import SpikeGeometry, check_spike_file, voxelize_file
from dataprep.gopro.tree import (
    ExistingTree,
    apply_links,
    diff_links,
    prune_empty,
    read_tree,
    remove_voxels,
    voxel_path,
)
from dataprep.gopro.voxels import VoxelWriter
from dataprep.stages import LocalExecutor, Report, Stage, StageOutcome, UnitFailure, run_stage
from dataprep.storage import Fingerprint, write_json_if_changed
from dataprep.storage.crashpoints import crash_point

log = logging.getLogger(__name__)

STATE_FILE = ".prepared.json"
STATE_VERSION = 1


class SpikeCheck(NamedTuple):
    """A spike file as last checked: its size and mtime then, and what was wrong with it (None: valid)."""

    size: int
    mtime_ns: int
    problem: str | None


def _settings(config: GoproPrepareConfig) -> dict[str, Any]:
    geometry = SpikeGeometry.from_spec(config.spike)
    return {
        "version": STATE_VERSION,
        "geometry": asdict(geometry),
        "voxels": config.voxels.model_dump() if config.voxels else None,
    }


def _read_state(output_dir: Path, geometry: dict[str, Any]) -> tuple[dict[str, SpikeCheck], Any]:
    """Checks and voxel settings of the last run; nothing when absent, unreadable or of another geometry."""
    try:
        state = json.loads((output_dir / STATE_FILE).read_text())
        if state.get("version") != STATE_VERSION or state.get("geometry") != geometry:
            return {}, None
        return {frame: SpikeCheck(*check) for frame, check in state["spikes"].items()}, state["voxels"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}, None


def _list_files(
    config: GoproPrepareConfig, job: SequenceJob
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Frames of every required folder (sources, then spike) and frames two files claim."""
    if job.gopro_dir is None or job.spike_dir is None:
        return {}, {}
    image = re.compile(config.layout.image_pattern)
    folders = [(source, job.gopro_dir / source, image) for source in config.sources]
    folders.append(
        (
            config.layout.spike_folder,
            job.spike_dir / config.layout.spike_folder,
            re.compile(config.layout.spike_pattern),
        )
    )
    files: dict[str, dict[str, str]] = {}
    doubles: dict[str, str] = {}
    for name, folder, pattern in folders:
        files[name], folder_doubles = folder_frames(folder, pattern)
        for frame, reason in folder_doubles.items():
            doubles.setdefault(frame, reason)
    return files, doubles


class _SpikePass(NamedTuple):
    checks: dict[str, SpikeCheck]
    voxels_written: tuple[str, ...]  # frames whose voxel was (in a dry run: would be) written


def _check_spikes(
    config: GoproPrepareConfig,
    job: SequenceJob,
    frames: list[str],
    names: dict[str, str],
    existing: ExistingTree,
    dry_run: bool,
) -> _SpikePass:
    """Check each candidate's spike file, computing its voxel in the same read when one is due.

    A file whose size and mtime are those of the last check keeps that verdict; its voxel is redone only if
    missing or made with other settings. A dry run checks but writes nothing.
    """
    if not frames or job.spike_dir is None:
        return _SpikePass({}, ())
    geometry = SpikeGeometry.from_spec(config.spike)
    settings = _settings(config)
    previous, previous_voxels = _read_state(job.output_dir, settings["geometry"])
    voxels_current = previous_voxels == settings["voxels"]
    folder = job.spike_dir / config.layout.spike_folder
    checks: dict[str, SpikeCheck] = {}
    written: list[str] = []
    with VoxelWriter() as writer:
        for frame in frames:
            checks[frame], due = _check_one(
                config,
                geometry,
                folder / names[frame],
                frame,
                previous.get(frame),
                voxels_current and frame in existing.voxels,
                None if dry_run else (writer, job.output_dir),
            )
            if due:
                written.append(frame)
    return _SpikePass(checks, tuple(written))


def _check_one(
    config: GoproPrepareConfig,
    geometry: SpikeGeometry,
    path: Path,
    frame: str,
    last: SpikeCheck | None,
    voxel_current: bool,
    writer: tuple[VoxelWriter, Path] | None,
) -> tuple[SpikeCheck, bool]:
    """One spike file's check, and whether its voxel is written (in a dry run: would be; `writer` is None)."""
    try:
        stamp = Fingerprint.of(path)
    except OSError as err:
        return SpikeCheck(-1, -1, f"unreadable: {err.strerror}"), False
    known = last is not None and (last.size, last.mtime_ns) == stamp
    voxel_due = (
        config.voxels is not None and (not known or (last is not None and last.problem is None))
        and not (known and voxel_current)
    )
    if known and not voxel_due:
        return last, False  # type: ignore[return-value]
    try:
        if voxel_due and writer is not None:
            voxel = voxelize_file(path, geometry, config.voxels.bins, config.voxels.dtype)  # type: ignore[union-attr]
            pool, output_dir = writer
            pool.submit(voxel_path(output_dir, config.layout.voxel_folder, frame), voxel)
        else:
            check_spike_file(path, geometry)
    except SpikeFileError as err:
        return SpikeCheck(*stamp, err.problem), False
    return SpikeCheck(*stamp, None), voxel_due


def prepare_sequence(config: GoproPrepareConfig, job: SequenceJob, dry_run: bool = False) -> SequenceResult:
    """Bring one sequence's output folder in line with its raw files; SequenceError names what stops it."""
    try:
        return _prepare_sequence(config, job, dry_run)
    except SequenceError:
        raise
    except OSError as err:
        raise SequenceError(f"{job.name}: {err}") from err


def _prepare_sequence(config: GoproPrepareConfig, job: SequenceJob, dry_run: bool) -> SequenceResult:
    layout = config.layout
    link_folders = (*config.sources, layout.spike_folder)
    existing = read_tree(job.output_dir, link_folders, layout.voxel_folder)
    files, doubles = _list_files(config, job)
    relative = config.link == "relative"
    base: Callable[[Path], Path] = (lambda p: p.resolve()) if relative else (lambda p: p.absolute())
    output_dir = base(job.output_dir)
    source_dirs: dict[str, Path] = {}
    if files:
        assert job.gopro_dir is not None and job.spike_dir is not None  # frames to link: the sequence is in both roots
        source_dirs = {source: base(job.gopro_dir / source) for source in config.sources}
        source_dirs[layout.spike_folder] = base(job.spike_dir / layout.spike_folder)
    candidates = [f for f in plan_frames(files, {}).frames if f not in doubles]
    # A real file where a link will go stops the sequence before anything is read or written.
    diff_links(plan_links(candidates, files, source_dirs, output_dir, relative), existing)
    spikes = _check_spikes(config, job, candidates, files.get(layout.spike_folder, {}), existing, dry_run)
    invalid = {frame: check.problem for frame, check in spikes.checks.items() if check.problem is not None}
    doubles = {**doubles, **frame_size_problems(config, job, [f for f in candidates if f not in invalid], files)}
    frame_plan = plan_frames(files, {**doubles, **invalid})
    changes = diff_links(plan_links(frame_plan.frames, files, source_dirs, output_dir, relative), existing)
    kept = set(frame_plan.frames) if config.voxels is not None else set()
    stale_voxels = sorted(existing.voxels - kept)
    if not dry_run:
        apply_links(job.output_dir, changes)
        remove_voxels(job.output_dir, layout.voxel_folder, stale_voxels)
        crash_point("gopro-before-state")  # links written, state not: the rerun checks every spike again
        if files:
            state = {**_settings(config), "spikes": {f: list(c) for f, c in spikes.checks.items()}}
            write_json_if_changed(job.output_dir / STATE_FILE, state)  # unchanged: not rewritten
        prune_empty(job.output_dir, (*link_folders, layout.voxel_folder), STATE_FILE, keep_state=bool(files))
    left_out = tuple(LeftOut(f.frame, doubles.get(f.frame, f.reason)) for f in frame_plan.left_out)
    lines = (
        changes.lines()
        + [f"write {layout.voxel_folder}/{frame}.npy" for frame in spikes.voxels_written]
        + [f"remove {layout.voxel_folder}/{frame}.npy" for frame in stale_voxels]
    )
    return SequenceResult(
        job.split,
        job.sequence,
        len(frame_plan.frames),
        left_out,
        job.reason,
        len(changes.create),
        len(changes.update),
        len(changes.remove),
        changes.unchanged,
        len(spikes.voxels_written),
        len(stale_voxels),
        tuple(lines),
    )


def conclude_prepare(
    config: GoproPrepareConfig,
    plan: PreparePlan,
    results: Sequence[SequenceResult],
    failures: Sequence[UnitFailure],
    dry_run: bool = False,
) -> PrepareReport:
    """Assemble the report in plan order and write report.json (not in a dry run)."""
    order = {job.name: i for i, job in enumerate(plan.jobs)}
    report = PrepareReport(
        config.output_root,
        plan.splits,
        tuple(sorted(results, key=lambda r: order[r.name])),
        tuple(sorted(failures, key=lambda f: order[f.unit])),
        dry_run,
    )
    if not dry_run:
        write_report(report)
    return report


@dataclass(frozen=True)
class GoproStage(Stage[PreparePlan, SequenceJob, SequenceResult, PrepareReport]):
    """The units are sequences; each writes only its own output folder. A sequence that fails (whatever it
    raised) is named in the report and the others go on; failures make the stage an error after the report."""

    config: GoproPrepareConfig
    dry_run: bool = False
    name = "gopro_prepare"

    @override
    def plan(self) -> PreparePlan:
        return plan_prepare(self.config)

    @override
    def units(self, plan: PreparePlan) -> Sequence[SequenceJob]:
        return plan.jobs

    @override
    def unit_name(self, unit: SequenceJob) -> str:
        return unit.name

    @override
    def run_unit(self, plan: PreparePlan, unit: SequenceJob, report: Report | None = None) -> SequenceResult:
        return prepare_sequence(self.config, unit, self.dry_run)

    @override
    def conclude(self, plan: PreparePlan, outcome: StageOutcome[SequenceResult]) -> PrepareReport:
        return conclude_prepare(self.config, plan, outcome.results, outcome.failures, self.dry_run)

    @override
    def raise_for_failures(self, report: PrepareReport) -> PrepareReport:
        return raise_for_failures(report)


def prepare_tree(config: GoproPrepareConfig, dry_run: bool = False) -> PrepareReport:
    """The whole stage in this process, one sequence after another (the flow runs them in parallel)."""
    return run_stage(GoproStage(config, dry_run), LocalExecutor())
