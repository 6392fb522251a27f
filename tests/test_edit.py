# ruff: noqa: F401, F811 - `bags` and `converted` are fixtures imported from tests.edit_helpers
"""Dataset edits (trim, delete): frames kept are the source's frames, numbers and statistics stay true, a kill
at any step then a rerun gives the uninterrupted result, and a nightly append afterwards adds only new bags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dataprep.conversion import convert_dataset
from dataprep.edit import EditError, delete_episodes, read_source, trim_episode
from dataprep.lerobot.commit_record import CommitRecord
from dataprep.lerobot.quality_files import document_files, read_document
from dataprep.lerobot.stats import aggregate_stats, column_stats
from dataprep.lerobot.video import psnr
from dataprep.storage.crashpoints import CRASH_ENV
from dataprep.validate import validate_dataset
from flows.edit_dataset import main as edit_main
from tests.edit_helpers import (  # bags and converted are the fixtures
    CAMERA,
    PROJECT,
    REPO,
    bags,
    config_for,
    converted,
    copy_of,
    episode_frames,
    episode_rows,
    snapshot,
)


def test_delete_keeps_the_other_episodes_frame_for_frame_and_renumbers_them(converted: Path, tmp_path: Path) -> None:
    root = copy_of(converted, tmp_path)
    source = read_source(converted / REPO)
    assert len({ep.videos[CAMERA].file for ep in source.episodes}) < len(source.episodes)  # shared files
    delete_episodes(root, [1])
    report = validate_dataset(root, decode_all=True)
    assert report.ok and report.episodes == 3, report.table()
    for new, old in enumerate([0, 2, 3]):
        assert all(np.array_equal(a, b) for a, b in zip(episode_frames(root, new), episode_frames(converted / REPO, old),
                                                        strict=True))
        rows, before = episode_rows(root, new), episode_rows(converted / REPO, old)
        assert rows["observation.state"] == before["observation.state"]
        assert set(rows["episode_index"]) == {new}
    indices = [i for e in range(3) for i in episode_rows(root, e)["index"]]
    assert indices == list(range(len(indices)))
    record = CommitRecord.load(root)
    assert [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources] == [
        ("a.bag", 0, 1), ("b.bag", 1, 1), ("c.bag", 1, 2), ("d.bag", 2, 3)]  # b's episodes are gone, b stays listed
    quality = read_document(root)
    assert quality is not None and [e.episode_index for e in quality.episodes] == [0, 1, 2]
    assert quality.excluded[-1].removed_by == "delete" and quality.totals.episodes == 3
    stats = json.loads((root / "meta/stats.json").read_text())
    kept = read_source(root)
    for key in ("observation.state", CAMERA, "index", "episode_index"):
        assert aggregate_stats([ep.stats[key] for ep in kept.episodes]).to_dict() == stats[key]
    assert kept.episodes[2].stats["index"].to_dict() == column_stats(np.arange(kept.episodes[2].first_frame,
                                                                               kept.frames), "index").to_dict()


@pytest.mark.parametrize(("frames", "copied"), [("2:-3", True), ("3:", False)])
def test_trim_keeps_frames_a_to_b_minus_one_and_recomputes_that_episodes_stats(
    converted: Path, tmp_path: Path, frames: str, copied: bool
) -> None:
    root = copy_of(converted, tmp_path)
    summary = trim_episode(root, 1, frames)
    assert summary.reencoded_episodes == (0 if copied else 1)  # a keyframe start: packet copy, else re-encoded
    assert validate_dataset(root, decode_all=True).ok
    start, stop = (int(x) if x else None for x in frames.split(":"))
    before = episode_frames(converted / REPO, 1)[start:stop]
    after = episode_frames(root, 1)
    assert len(after) == len(before)
    if copied:
        assert all(np.array_equal(a, b) for a, b in zip(after, before))
    else:
        assert min(psnr(a, b) for a, b in zip(after, before)) > 30
    for other in (0, 2, 3):  # untouched episodes: the very same frames
        assert all(np.array_equal(a, b) for a, b in zip(episode_frames(root, other), episode_frames(converted / REPO, other)))
    rows = episode_rows(root, 1)
    old_rows = episode_rows(converted / REPO, 1)
    assert rows["observation.state"] == old_rows["observation.state"][start:stop]
    assert rows["frame_index"] == list(range(len(before)))
    ep = read_source(root).episodes[1]
    state = np.array(rows["observation.state"])
    assert ep.stats["observation.state"].to_dict() == column_stats(state).to_dict()
    assert int(ep.stats[CAMERA].count[0]) > 0 and ep.length == len(before)
    quality = read_document(root)
    assert quality is not None and quality.episodes[1].trim is not None and quality.episodes[1].trim.frames[0] == start


def test_an_append_after_delete_and_trim_adds_only_new_bags_and_keeps_the_edits(
    converted: Path, bags: list[Path], tmp_path: Path
) -> None:
    root = copy_of(converted, tmp_path)
    delete_episodes(root, [1])
    trim_episode(root, 0, "2:8")
    report = convert_dataset(config_for(bags, tmp_path / "out"))
    assert [Path(b.bag).name for b in report.bags] == ["e.bag"]  # a, c, d are in; b was deleted: not back
    source = read_source(root)
    assert len(source.episodes) == 4 and source.episodes[0].length == 6  # a is still trimmed
    assert validate_dataset(root, decode_all=True).ok
    record = CommitRecord.load(root)
    assert [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources][-1] == ("e.bag", 3, 4)


def test_a_rerun_of_the_edit_that_made_the_version_changes_nothing(converted: Path, tmp_path: Path) -> None:
    root = copy_of(converted, tmp_path)
    delete_episodes(root, [0])
    done = snapshot(root)
    delete_episodes(root, [0])  # e.g. a retry after a kill once the new version was in place
    assert snapshot(root) == done
    delete_episodes(root, [0], again=True)
    assert len(read_source(root).episodes) == 2


# each point the edit passes; the last two are the swap's own (storage.swap)
CRASH_POINTS = ("edit-video-file", "edit-data-file", "edit-meta-episodes", "edit-before-commit-record",
                "edit-commit-recorded", "swap-between-renames", "swap-before-cleanup")


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_trim_killed_at_any_step_then_rerun_gives_the_uninterrupted_result(
    converted: Path, tmp_path: Path, point: str
) -> None:
    expected = copy_of(converted, tmp_path / "expected")
    trim_episode(expected, 1, "3:-2")
    root = copy_of(converted, tmp_path / "killed")
    command = [sys.executable, "-m", "flows.edit_dataset", "trim", str(root), "--episode", "1", "--frames", "3:-2"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    killed = subprocess.run(command, cwd=PROJECT, env={**env, CRASH_ENV: point}, capture_output=True, text=True,
                            timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr
    again = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert snapshot(root) == snapshot(expected)
    assert sorted(p.name for p in root.parent.iterdir()) == ["edit"]  # no .tmp or .old left


def test_the_command_names_a_missing_episode_and_leaves_the_dataset_as_it_was(
    converted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_of(converted, tmp_path)
    before = snapshot(root)
    assert edit_main(["delete", str(root), "--episodes", "1,9"]) == 2
    assert "no episode 9; the dataset has episodes 0..3" in capsys.readouterr().err
    assert edit_main(["trim", str(root), "--episode", "0", "--frames", "5:5"]) == 2
    assert "keep nothing" in capsys.readouterr().err
    with pytest.raises(EditError, match="no episode to delete"):
        delete_episodes(root, [])
    assert snapshot(root) == before


def test_the_delete_flow_runs_on_a_prefect_server_and_deletes_the_failing_episodes(
    converted: Path, tmp_path: Path, prefect_server: None
) -> None:
    from prefect.artifacts import Artifact

    from flows.edit_dataset import delete_dataset_flow
    from tasks.artifacts import artifact_key

    root = copy_of(converted, tmp_path)
    quality = read_document(root)
    assert quality is not None
    entries = [replace(e, quality=replace(e.quality, failing=("camera gap",))) if e.episode_index in (0, 3) and e.quality
               else e for e in quality.episodes]  # as a report with two failing takes would say
    for relative, data in document_files(replace(quality, episodes=tuple(entries))).items():
        (root / relative).write_bytes(data)
    summary = delete_dataset_flow(str(root), failing=True)
    assert summary.episodes == 2
    assert [Path(s.path).name for s in CommitRecord.load(root).sources if s.end_episode > s.first_episode] == [
        "b.bag", "c.bag"]
    artifact = Artifact.get(artifact_key("edit", root.resolve()))
    assert artifact is not None and ": 2 episode(s)" in str(artifact.data)


def test_foreign_datasets_written_by_lerobot_can_be_trimmed_and_deleted_from(tmp_path: Path) -> None:
    for kind in ("video", "image"):  # lerobot 0.6.1 wrote these (tests/golden/make_golden.py)
        root = tmp_path / kind
        shutil.copytree(PROJECT / "tests/golden" / kind, root)
        trim_episode(root, 0, "1:-1")
        delete_episodes(root, [1])
        report = validate_dataset(root, decode_all=True)
        assert report.ok and (report.episodes, report.frames) == (1, 10), report.table()
        rows = episode_rows(root, 0)
        assert rows["index"] == list(range(10)) and rows["frame_index"] == list(range(10))
