# ruff: noqa: F401, F811 - `bags` and `converted` are fixtures imported from tests.edit_helpers
"""split and merge: every frame of the new datasets is the source frame it comes from, the records list every
bag so a nightly append adds only new ones, a kill at any step then a rerun gives the uninterrupted result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dataprep.conversion import convert_dataset
from dataprep.edit import EditError, merge_datasets, read_source, split_dataset
from dataprep.edit.split import choose_val
from dataprep.lerobot.commit_record import CommitRecord
from dataprep.storage.crashpoints import CRASH_ENV
from dataprep.validate import validate_dataset
from tests.edit_helpers import (
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


def same_episode(new: Path, new_index: int, old: Path, old_index: int) -> bool:
    frames = zip(episode_frames(new, new_index), episode_frames(old, old_index), strict=True)
    rows, before = episode_rows(new, new_index), episode_rows(old, old_index)
    return all(np.array_equal(a, b) for a, b in frames) and rows["action"] == before["action"]


def test_split_writes_the_chosen_episodes_and_an_append_to_train_brings_none_of_val_back(
    converted: Path, bags: list[Path], tmp_path: Path
) -> None:
    source = converted / REPO
    out = tmp_path / "out"
    train, val = split_dataset(source, (out / "test/train", out / "test/val"), val_episodes=[1, 3])
    assert (train.episodes, val.episodes) == (2, 2)
    for root, chosen in ((out / "test/train", [0, 2]), (out / "test/val", [1, 3])):
        assert validate_dataset(root, decode_all=True).ok
        assert all(same_episode(root, new, source, old) for new, old in enumerate(chosen))
    record = CommitRecord.load(out / "test/val")
    assert [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources] == [
        ("a.bag", 0, 0), ("b.bag", 0, 1), ("c.bag", 1, 1), ("d.bag", 1, 2)]
    config = config_for(bags, out).model_copy(update={"repo_id": "test/train"})
    report = convert_dataset(config)
    assert [Path(b.bag).name for b in report.bags] == ["e.bag"]  # b and d are val's: not appended to train
    assert len(read_source(out / "test/train").episodes) == 3


def test_a_seeded_share_draws_the_same_validation_episodes_every_time(converted: Path, tmp_path: Path) -> None:
    assert choose_val(40, 0.1, seed=7) == choose_val(40, 0.1, seed=7) != choose_val(40, 0.1, seed=8)
    assert len(choose_val(40, 0.1, seed=7)) == 4 and len(choose_val(3, 0.01, seed=0)) == 1
    _, val = split_dataset(converted / REPO, (tmp_path / "t", tmp_path / "v"), val_share=0.25, seed=3)
    chosen = choose_val(4, 0.25, seed=3)
    assert val.episodes == 1 and same_episode(tmp_path / "v", 0, converted / REPO, chosen[0])
    with pytest.raises(EditError, match="exists and is not empty"):
        split_dataset(converted / REPO, (tmp_path / "t", tmp_path / "v"), val_share=0.5, seed=3)


def test_merge_holds_every_source_frame_in_order_and_renumbers_the_later_sources(
    converted: Path, bags: list[Path], tmp_path: Path
) -> None:
    source = converted / REPO
    out = tmp_path / "out"
    split_dataset(source, (tmp_path / "train", tmp_path / "val"), val_episodes=[0, 1])
    summary = merge_datasets([tmp_path / "train", tmp_path / "val"], out / REPO)
    assert summary.episodes == 4 and summary.linked_files > 0  # the first source's files are kept as they are
    assert validate_dataset(out / REPO, decode_all=True).ok
    for new, old in enumerate([2, 3, 0, 1]):
        assert same_episode(out / REPO, new, source, old)
    indices = [i for e in range(4) for i in episode_rows(out / REPO, e)["index"]]
    assert indices == list(range(len(indices)))
    report = convert_dataset(config_for(bags, out))  # every bag is in the merged record: only e is new
    assert [Path(b.bag).name for b in report.bags] == ["e.bag"]


def test_merge_takes_lerobot_written_datasets_and_refuses_different_features(converted: Path, tmp_path: Path) -> None:
    golden = PROJECT / "tests/golden/video"
    summary = merge_datasets([golden, golden], tmp_path / "gold")
    assert summary.episodes == 2 * len(read_source(golden).episodes)
    assert validate_dataset(tmp_path / "gold", decode_all=True).ok
    half = len(read_source(golden).episodes)
    for i in range(half):
        key = "observation.images.front"
        for new in (i, half + i):
            assert all(np.array_equal(a, b) for a, b in zip(episode_frames(tmp_path / "gold", new, key),
                                                            episode_frames(golden, i, key), strict=True))
    with pytest.raises(EditError, match=r"features \[.*\] differ"):
        merge_datasets([converted / REPO, golden], tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists()


@pytest.mark.parametrize("point", ["edit-data-file", "edit-before-commit-record", "swap-before-cleanup"])
@pytest.mark.parametrize("operation", ["split", "merge"])
def test_split_and_merge_killed_at_a_step_then_rerun_give_the_uninterrupted_result(
    converted: Path, tmp_path: Path, operation: str, point: str
) -> None:
    source = copy_of(converted, tmp_path)

    def command(out: Path) -> list[str]:
        if operation == "split":
            return ["split", str(source), "--val-episodes", "1,2", "--into", str(out / "train"), str(out / "val")]
        return ["merge", str(source), str(source), "--into", str(out / "merged")]

    def run(out: Path, crash: str | None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(PROJECT)} | ({CRASH_ENV: crash} if crash else {})
        return subprocess.run([sys.executable, "-m", "flows.edit_dataset", *command(out)], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    if operation == "merge":  # one bag in both sources would be refused: an empty record (a foreign dataset)
        (source / "meta/commit.json").write_text('{"format": 1, "settings_hash": "", "episodes": 4, "frames": '
                                                 f'{read_source(source).frames}, "sources": []}}')
    assert run(tmp_path / "expected", None).returncode == 0
    assert run(tmp_path / "killed", point).returncode == -9
    again = run(tmp_path / "killed", None)
    assert again.returncode == 0, again.stderr
    for part in sorted(p.name for p in (tmp_path / "expected").iterdir()):
        assert snapshot(tmp_path / "killed" / part) == snapshot(tmp_path / "expected" / part), part
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == sorted(
        p.name for p in (tmp_path / "expected").iterdir())  # no .tmp or .old left
