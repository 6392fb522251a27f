"""Crash-safe commit, resume and nightly append: a run killed anywhere and rerun gives the uninterrupted run's
dataset; an append leaves every committed file as it was; a changed configuration is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.config.models import InputSpec
from dataprep.conversion import conclude_conversion, convert_bag, convert_dataset, plan_conversion
from dataprep.conversion.staging import staging_root
from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, sources_part
from dataprep.lerobot.committed import APPENDED_FOLDERS, LINKED_FOLDERS
from dataprep.lerobot.layout import STAT_NAMES
from dataprep.lerobot.quality_files import QualityDocument, read_document
from dataprep.lerobot.stats import FeatureStats, aggregate_stats
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.storage import markers
from dataprep.storage.crashpoints import CRASH_ENV
from dataprep.storage.swap import old_folder, recover_swap, tmp_folder
from dataprep.validate import validate_dataset
from flows.summaries import describe_conversion
from flows.validate_dataset import main as validate_main

PROJECT = Path(__file__).resolve().parents[1]
REPO = "test/nightly"
# tiny files, so two bags already fill several data and video files; chunks of 10 frames, so a bag has several
SMALL_FILES = ("data_files_size_in_mb=0.004", "video_files_size_in_mb=0.004", "chunk_size=10")
# runs one conversion and dies where DATAPREP_CRASH_AT says ("mid-bag": at the first chunk of a bag)
RUN = """
import sys
from pathlib import Path
from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.storage.crashpoints import crash_point
config = ConvertConfig.model_validate_json(Path(sys.argv[1]).read_text())
convert_dataset(config, on_chunk=lambda report: crash_point("mid-bag"))
"""


def assert_same_stats(expected: dict, found: dict) -> None:
    """An append merges the committed aggregate with the new episodes: equal to aggregating every episode
    up to float rounding (counts, min and max exactly)."""
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        if name in ("count", "min", "max"):
            assert found[name] == value, name
        else:
            np.testing.assert_allclose(found[name], value, rtol=1e-12, atol=1e-12, err_msg=name)


def config_for(bags: list[Path], out: Path, *overrides: str) -> ConvertConfig:
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                         [f"input.bags={bags[0]}", f"output_root={out}", f"repo_id={REPO}", *SMALL_FILES, *overrides])
    return config.model_copy(update={"input": InputSpec(bags=tuple(str(bag) for bag in bags))})


def run_killed(config: ConvertConfig, point: str, tmp_path: Path) -> None:
    """Run the conversion in a subprocess that SIGKILLs itself at `point` (no cleanup, no finally)."""
    (tmp_path / "config.json").write_text(config.model_dump_json())
    killed = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "config.json")], check=False, cwd=PROJECT,
                            env={**os.environ, CRASH_ENV: point}, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr  # killed where asked, not finished or failed


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def episode_rows(root: Path) -> list[dict]:
    return [row for path in sorted((root / "meta/episodes").rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four short Kuavo-like bags, a to d; the first two make the committed dataset, c and d arrive later."""
    folder = tmp_path_factory.mktemp("bags")
    for i, name in enumerate("abcd"):
        write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=64, height=48))
    return sorted(folder.glob("*.bag"))


@pytest.fixture(scope="module")
def first(bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder holding the dataset of bags a and b, committed."""
    out = tmp_path_factory.mktemp("first")
    convert_dataset(config_for(bags[:2], out))
    return out


@pytest.fixture(scope="module")
def appended(first: Path, bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, after an uninterrupted append run with all four bags as input."""
    out = tmp_path_factory.mktemp("appended") / "out"
    shutil.copytree(first, out)
    report = convert_dataset(config_for(bags, out))
    assert [Path(b.bag).name for b in report.bags] == ["c.bag", "d.bag"]  # a and b are not converted again
    return out


def test_the_first_run_commits_a_record_and_deletes_the_staged_copies(first: Path, bags: list[Path]) -> None:
    record = CommitRecord.load(first / REPO)
    assert record is not None
    assert [Path(s.path).name for s in record.sources] == ["a.bag", "b.bag"]
    assert [(s.first_episode, s.end_episode) for s in record.sources] == [(0, 1), (1, 2)]
    assert not staging_root(config_for(bags[:2], first)).exists()
    assert sorted(p.name for p in (first / REPO).parent.iterdir()) == ["nightly"]  # no .tmp or .old left


def test_appending_two_bags_leaves_every_committed_file_byte_identical(first: Path, appended: Path) -> None:
    before, after = snapshot(first / REPO), snapshot(appended / REPO)
    committed = [name for name in before if name.startswith(("data/", "videos/", "meta/episodes/"))]
    assert len([n for n in committed if n.startswith("videos/")]) >= 6  # several files per camera
    for name in committed:
        assert after[name] == before[name], name
        assert (appended / REPO / name).stat().st_nlink == 1  # the old version's links are gone with it
    new = sorted(set(after) - set(before))
    assert any(n.startswith("data/") for n in new) and any(n.startswith("meta/episodes/") for n in new)
    rows = episode_rows(appended / REPO)
    assert [r["episode_index"] for r in rows] == [0, 1, 2, 3]
    assert [r["dataset_from_index"] for r in rows[1:]] == [r["dataset_to_index"] for r in rows[:-1]]
    old_rows = episode_rows(first / REPO)
    assert rows[:2] == old_rows  # committed rows unchanged
    assert rows[2]["data/file_index"] > max(r["data/file_index"] for r in old_rows)  # new files after the last
    record = CommitRecord.load(appended / REPO)
    assert [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources] == [
        ("a.bag", 0, 1), ("b.bag", 1, 2), ("c.bag", 2, 3), ("d.bag", 3, 4)]


def test_an_append_flushes_its_new_files_and_never_a_committed_one_again(
    first: Path, bags: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committed files an append links over are on disk already; flushing them again made every append
    cost more than the one before (one fsync per committed file, ~7 files a nightly episode)."""
    out = tmp_path / "out"
    shutil.copytree(first, out)
    taken_over = tuple(f"{folder}/" for folder in (*LINKED_FOLDERS, *APPENDED_FOLDERS))
    committed = {name for name in snapshot(first / REPO) if name.startswith(taken_over)}
    assert any(name.startswith("meta/commit/") for name in committed)
    flushed: list[Path] = []
    real = markers.fsync_path

    def recorded(path: Path | str) -> None:
        flushed.append(Path(path))
        real(path)

    monkeypatch.setattr(markers, "fsync_path", recorded)
    convert_dataset(config_for(bags[:3], out))
    new_version = tmp_folder(out / REPO)
    files = {path.relative_to(new_version).as_posix() for path in flushed if path.is_relative_to(new_version)}
    assert files, "the new version was not flushed"
    assert not files & committed, sorted(files & committed)[:5]
    written = {name for name in snapshot(out / REPO) if name.startswith(taken_over) and name not in committed}
    linked_from_staging = {name for name in written if name.startswith("videos/")}
    assert any(name.startswith("data/") for name in written) and linked_from_staging
    assert linked_from_staging <= files  # new, though hard-linked from staging: flushed with the rest


def test_an_append_keeps_tasks_quality_records_and_aggregates_stats_over_all_episodes(
    first: Path, appended: Path
) -> None:
    old_quality, quality = read_document(first / REPO), read_document(appended / REPO)
    assert old_quality is not None and quality is not None
    assert quality.episodes[:2] == old_quality.episodes
    assert [e.episode_index for e in quality.episodes] == [0, 1, 2, 3]
    assert quality.totals.episodes == 4 and quality.totals.parts == 2  # one part per commit
    totals = quality.totals  # updated from the first commit's totals and the new entries = computed from all
    assert totals == replace(QualityDocument.of(REPO, quality.episodes, totals.dropped, totals.settings_hash,
                                                totals.thresholds).totals, parts=2)
    info = json.loads((appended / REPO / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_tasks"], info["splits"]) == (4, 1, {"train": "0:4"})
    stats = json.loads((appended / REPO / "meta/stats.json").read_text())
    rows = episode_rows(appended / REPO)
    for key in ("observation.state", "observation.images.head_cam_h", "index"):
        parts = [FeatureStats.from_dict({n: row[f"stats/{key}/{n}"] for n in STAT_NAMES}) for row in rows]
        assert_same_stats(aggregate_stats(parts).to_dict(), stats[key])


def test_the_validator_passes_the_packed_and_the_appended_dataset(first: Path, appended: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for out in (first, appended):
        report = validate_dataset(out / REPO, decode_all=True)
        assert report.ok, report.table()
        assert validate_main([str(out / REPO), "--decode-all"]) == 0  # python -m flows.validate_dataset
    assert capsys.readouterr().out.count("OK") == 2


def test_a_run_with_nothing_new_changes_nothing(appended: Path, bags: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(appended, out)
    report = convert_dataset(config_for(bags, out))
    assert report.bags == () and report.dataset.episodes == 4
    assert snapshot(out / REPO) == snapshot(appended / REPO)
    assert "no new bag: the dataset holds every bag of the input already" in describe_conversion(report)


@pytest.mark.parametrize("point", [
    "mid-bag", "pack-data-file", "pack-video-file", "meta-stats", "before-commit-record", "commit-sources-written",
    "commit-recorded",
    "swap-between-renames", "swap-before-cleanup", "before-staging-cleanup",
])  # fmt: skip
def test_a_run_killed_anywhere_and_rerun_gives_the_uninterrupted_runs_dataset(
    point: str, first: Path, appended: Path, bags: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first, out)
    config = config_for(bags, out)
    run_killed(config, point, tmp_path)

    report = convert_dataset(config)

    assert report.dataset.episodes == 4
    assert snapshot(out / REPO) == snapshot(appended / REPO)
    assert sorted(p.name for p in (out / REPO).parent.iterdir()) == ["nightly"]
    assert not staging_root(config).exists()


def test_a_first_run_killed_inside_the_commit_leaves_no_dataset_and_the_rerun_builds_it(
    first: Path, bags: list[Path], tmp_path: Path
) -> None:
    config = config_for(bags[:2], tmp_path / "out")
    run_killed(config, "meta-stats", tmp_path)
    assert not config.dataset_root.exists()  # a reader sees no dataset rather than half of one

    convert_dataset(config)

    assert snapshot(config.dataset_root) == snapshot(first / REPO)


def test_a_changed_configuration_is_refused_with_the_rebuild_hint(first: Path, bags: list[Path], tmp_path: Path
                                                                  ) -> None:
    out = tmp_path / "out"
    shutil.copytree(first, out)
    with pytest.raises(DataprepError, match=r"converted with other settings .* --set rosbag_to_lerobot\.mode=rebuild"):
        plan_conversion(config_for(bags, out, "fps=5"))
    (out / REPO / COMMIT_PATH).unlink()  # lost: adopted (tests/test_adopt.py), its settings read from quality.json
    with pytest.raises(DataprepError, match=r"converted with other settings .* --set rosbag_to_lerobot\.mode=rebuild"):
        plan_conversion(config_for(bags, out, "fps=5"))
    def record_aside(root: Path) -> dict[str, bytes]:  # the record: its marker and its sources' parts
        return {k: v for k, v in snapshot(root).items() if k != COMMIT_PATH and not k.startswith("meta/commit/")}

    assert record_aside(out / REPO) == record_aside(first / REPO)


def test_rebuild_mode_replaces_the_dataset_with_every_planned_bag(first: Path, bags: list[Path], tmp_path: Path
                                                                  ) -> None:
    out = tmp_path / "out"
    shutil.copytree(first, out)
    report = convert_dataset(config_for(bags, out, "fps=5", "mode=rebuild"))
    assert [Path(b.bag).name for b in report.bags] == ["a.bag", "b.bag", "c.bag", "d.bag"]
    info = json.loads((out / REPO / "meta/info.json").read_text())
    assert (info["fps"], info["total_episodes"]) == (5, 4)
    record = CommitRecord.load(out / REPO)
    assert len(record.sources) == 4 and record.episodes == 4
    assert validate_dataset(out / REPO).ok
    # the next default (append) run with the new settings has nothing to add
    assert convert_dataset(config_for(bags, out, "fps=5")).bags == ()


def test_episodes_follow_bag_path_order_whatever_order_the_bags_finished_in(bags: list[Path], tmp_path: Path) -> None:
    config = config_for(bags[:3], tmp_path / "out")
    finished = [convert_bag(config, bag) for bag in reversed(bags[:3])]  # as if c finished first

    report = conclude_conversion(config, finished, [])

    assert [Path(b.bag).name for b in report.bags] == ["a.bag", "b.bag", "c.bag"]
    record = CommitRecord.load(config.dataset_root)
    assert [(Path(s.path).name, s.first_episode) for s in record.sources] == [("a.bag", 0), ("b.bag", 1), ("c.bag", 2)]
    lengths = [r["length"] for r in episode_rows(config.dataset_root)]
    assert lengths == sorted(lengths)  # a, b, c are 1.5, 1.8, 2.1 s long


@pytest.mark.parametrize(("present", "after"), [
    ({"tmp": True, "old": True}, "new"),       # killed between the two renames: finish the swap
    ({"root": True, "tmp": True}, "new"),      # killed after the record, before the swap: finish it
    ({"root": True, "tmp": False}, "old"),     # killed while building: drop the incomplete version
    ({"old": True}, "old"),                    # only the previous version is left: put it back
    ({"root": True, "old": True}, "old"),      # killed before deleting the previous version: delete it
])  # fmt: skip
def test_recover_swap_completes_or_rolls_back_every_interrupted_state(present: dict, after: str, tmp_path: Path
                                                                      ) -> None:
    root = tmp_path / "dataset"
    folders = {"root": root, "tmp": tmp_folder(root), "old": old_folder(root)}
    for name, complete in present.items():
        folders[name].mkdir()
        (folders[name] / "which").write_text("new" if name == "tmp" else "old")
        if complete:
            (folders[name] / "marker").write_text("")

    recover_swap(root, "marker")

    assert (root / "which").read_text() == after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_image_mode_appends_too(bags: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert_dataset(config_for(bags[:1], out, "camera_storage=image"))
    before = snapshot(out / REPO)

    report = convert_dataset(config_for(bags[:2], out, "camera_storage=image"))

    assert [Path(b.bag).name for b in report.bags] == ["b.bag"] and report.dataset.episodes == 2
    after = snapshot(out / REPO)
    assert all(after[name] == data for name, data in before.items() if name.startswith("data/"))
    stats = json.loads((out / REPO / "meta/stats.json").read_text())
    rows = episode_rows(out / REPO)
    key = "observation.images.wrist_cam_l"
    parts = [FeatureStats.from_dict({n: row[f"stats/{key}/{n}"] for n in STAT_NAMES}) for row in rows]
    assert_same_stats(aggregate_stats(parts).to_dict(), stats[key])
    assert validate_dataset(out / REPO).ok


def test_a_committed_bag_changed_on_disk_is_kept_as_committed_and_the_log_says_so(
    first: Path, bags: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, changed = tmp_path / "out", tmp_path / "a.bag"
    shutil.copytree(first, out)
    shutil.copy(bags[0], changed)  # a private copy (the module's bags stay as they are): a new mtime, a new key
    part = out / REPO / sources_part(0)
    lines = [json.loads(line) for line in part.read_text().splitlines()]
    lines[0]["path"] = str(changed.resolve())  # as if a.bag had been committed from here
    part.write_text("".join(json.dumps(line) + "\n" for line in lines))

    with caplog.at_level("WARNING"):
        plan = plan_conversion(config_for([changed, bags[1]], out))

    assert plan.bags == ()
    assert f"{changed} changed since its episodes were committed" in caplog.text and "mode: rebuild" in caplog.text
