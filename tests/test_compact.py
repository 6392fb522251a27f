"""Compaction merges the files appends leave behind, keeps every frame and row, survives a crash at any step."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.edit.compact import compact_dataset, partly_filled_files
from dataprep.lerobot.commit_record import CommitRecord
from dataprep.lerobot.layout import video_file
from dataprep.lerobot.quality_files import read_document
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.storage.crashpoints import CRASH_ENV
from dataprep.validate import validate_dataset

PROJECT = Path(__file__).resolve().parents[1]
REPO = "test/compact"
CAMERAS = ("observation.images.head_cam_h", "observation.images.wrist_cam_l", "observation.images.wrist_cam_r")
CRASH_POINTS = ("compact-data-file", "compact-video-file", "compact-meta", "compact-before-commit-record",
                "compact-recorded")
COMPACT = "import sys; from dataprep.edit.compact import compact_dataset; compact_dataset(sys.argv[1])"


def config_for(bag: Path, out: Path) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                       [f"input.bags={bag}", f"output_root={out}", f"repo_id={REPO}", "video.codec=h264"])


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("nights")
    return [write_kuavo_bag(folder / f"night_{i}.bag", KuavoBagSpec(duration_s=1.2 + 0.2 * i, width=64, height=48))
            for i in range(4)]


@pytest.fixture(scope="module")
def appended(bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder after three nightly appends: three files of each kind, all partly filled."""
    out = tmp_path_factory.mktemp("appended")
    for bag in bags[:3]:
        convert_dataset(config_for(bag, out))
    return out


def rows(root: Path, folder: str) -> pa.Table:
    tables = [pq.read_table(p) for p in sorted((root / folder).rglob("*.parquet"))]
    return pa.concat_tables(tables).replace_schema_metadata(None)


def frames(root: Path) -> dict[tuple[int, str], list[str]]:
    """Each episode's decoded frames per camera (hashes), found through its file and timestamps."""
    episodes = rows(root, "meta/episodes").to_pylist()
    out: dict[tuple[int, str], list[str]] = {}
    for key in CAMERAS:
        decoded: dict[tuple[int, int], list[tuple[float, str]]] = {}
        for ep in episodes:
            ref = (ep[f"videos/{key}/chunk_index"], ep[f"videos/{key}/file_index"])
            if ref not in decoded:
                with av.open(str(root / video_file(key, *ref))) as container:
                    decoded[ref] = [(float(f.time), hashlib.sha1(f.to_ndarray(format="rgb24").tobytes()).hexdigest())
                                    for f in container.decode(video=0)]
            start, end = ep[f"videos/{key}/from_timestamp"], ep[f"videos/{key}/to_timestamp"]
            out[ep["episode_index"], key] = [h for t, h in decoded[ref] if start - 1e-4 <= t < end - 1e-4]
            assert len(out[ep["episode_index"], key]) == ep["length"]
    return out


def files(root: Path, folder: str) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def compacted(appended: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compacted") / "out"
    shutil.copytree(appended, out)
    summary = compact_dataset(out / REPO)
    assert summary.changed and summary.before["data"] == 3
    return out


def test_compaction_leaves_one_file_per_kind_with_every_frame_and_row_unchanged(appended: Path,
                                                                                compacted: Path) -> None:
    before, after = appended / REPO, compacted / REPO
    assert partly_filled_files(before) == 3 * 5 - 5
    assert len(files(after, "data")) == 1 and len(files(after, "meta/episodes")) == 1
    assert all(len(files(after, f"videos/{key}")) == 1 for key in CAMERAS)
    assert rows(after, "data").equals(rows(before, "data"))
    assert frames(after) == frames(before)
    for name in ("meta/info.json", "meta/stats.json", "meta/tasks.parquet"):
        assert (after / name).read_bytes() == (before / name).read_bytes()
    for folder in ("meta/quality", "meta/commit"):  # one part per commit before, joined into one
        assert len(list((before / folder).iterdir())) == 3 and len(list((after / folder).iterdir())) == 1
    was, now = read_document(before), read_document(after)
    assert was is not None and now is not None and was.totals.parts == 3
    assert now == replace(was, totals=replace(was.totals, parts=1))  # every entry and total as it was
    old, new = CommitRecord.load(before), CommitRecord.load(after)
    assert old is not None and new is not None and new == old and new.parts == 1
    assert validate_dataset(after).ok
    assert not compact_dataset(after).changed  # nothing left to merge


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_compaction_killed_at_any_step_leaves_the_old_or_the_new_dataset_and_a_rerun_finishes(
        point: str, appended: Path, compacted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(appended, out)
    killed = subprocess.run([sys.executable, "-c", COMPACT, str(out / REPO)], cwd=PROJECT, check=False,
                            env={**os.environ, CRASH_ENV: point}, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    compact_dataset(out / REPO)  # recovers (rolls back or finishes the swap), then compacts if still needed
    assert not (out / f".{REPO.split('/')[1]}.tmp").exists() and not list((out / "test").glob(".*"))
    assert rows(out / REPO, "meta/episodes").equals(rows(compacted / REPO, "meta/episodes"))
    assert rows(out / REPO, "data").equals(rows(compacted / REPO, "data"))
    assert files(out / REPO, "videos") == files(compacted / REPO, "videos")


def test_an_append_after_compaction_goes_on_after_the_compacted_files(compacted: Path, bags: list[Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(compacted, out)
    before = frames(out / REPO)
    report = convert_dataset(config_for(bags[3], out))
    assert report.dataset.episodes == 4
    root = out / REPO
    assert files(root, "data") == ["data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet"]
    after = frames(root)
    assert {k: v for k, v in after.items() if k[0] < 3} == before
    assert validate_dataset(root).ok
    assert compact_dataset(root).after["data"] == 1
    assert frames(root) == after


def test_an_append_compacts_once_more_files_than_the_setting_could_be_merged(bags: list[Path],
                                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = config_for(bags[0], out).model_copy(update={"compact_after_files": 5})
    for bag in bags[:3]:
        convert_dataset(config.model_copy(update={"input": config.input.model_copy(update={"bags": (str(bag),)})}))
        mergeable = partly_filled_files(out / REPO)
        assert mergeable <= 5  # after the second append 5 files could merge (not more); the third compacts
    assert len(files(out / REPO, "data")) == 1 and validate_dataset(out / REPO).ok


def test_the_command_compacts_and_says_what_it_did(appended: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from flows.edit_dataset import main

    out = tmp_path / "out"
    shutil.copytree(appended, out)
    assert main(["compact", str(out / REPO)]) == 0
    assert capsys.readouterr().out == f"{out / REPO}: compacted data 3, meta/episodes 3, " + ", ".join(
        f"videos/{key} 3" for key in CAMERAS) + " -> data 1, meta/episodes 1, " + ", ".join(
        f"videos/{key} 1" for key in CAMERAS) + "\n"
    assert main(["compact", str(tmp_path / "nothing")]) == 2
    assert "error: " in capsys.readouterr().err


def test_an_image_mode_dataset_compacts_its_data_and_episodes_files(bags: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    for bag in bags[:2]:
        config = config_for(bag, out).model_copy(update={"camera_storage": "image"})
        convert_dataset(config)
    before = rows(out / REPO, "data")
    summary = compact_dataset(out / REPO)
    assert summary.before == {"data": 2, "meta/episodes": 2} and summary.after == {"data": 1, "meta/episodes": 1}
    assert rows(out / REPO, "data").equals(before)
    assert validate_dataset(out / REPO).ok


def test_a_file_no_episode_refers_to_is_named_and_the_dataset_is_left_as_it_was(appended: Path,
                                                                                tmp_path: Path) -> None:
    from dataprep.errors import DataprepError

    out = tmp_path / "out"
    shutil.copytree(appended, out)
    root = out / REPO
    stray = root / video_file(CAMERAS[0], 0, 99)
    shutil.copy(root / video_file(CAMERAS[0], 0, 0), stray)  # the plan is the folder listing: it lists this too
    before = {name: (root / name).read_bytes() for name in files(root, "")}

    with pytest.raises(DataprepError, match=r"no episode refers to videos/.*/chunk-000/file-099\.mp4"):
        compact_dataset(root)

    assert {name: (root / name).read_bytes() for name in files(root, "")} == before
    assert not list((out / "test").glob(".*"))


def test_an_episode_whose_data_file_is_missing_is_named_and_the_dataset_is_left_as_it_was(appended: Path,
                                                                                          tmp_path: Path) -> None:
    from dataprep.errors import DataprepError
    from dataprep.lerobot.layout import data_file

    out = tmp_path / "out"
    shutil.copytree(appended, out)
    root = out / REPO
    (root / data_file(0, 1)).unlink()
    before = {name: (root / name).read_bytes() for name in files(root, "")}

    with pytest.raises(DataprepError, match=r"file-001\.parquet: episode 1 refers to data/chunk-000/file-001\.parquet, "
                                            r"which does not exist"):
        compact_dataset(root)

    assert {name: (root / name).read_bytes() for name in files(root, "")} == before


COMPACT_VALIDATE_PREVIEW = """
import sys
from pathlib import Path
from dataprep.edit.compact import compact_dataset
from dataprep.lerobot.preview import first_episode_preview
from dataprep.validate import validate_dataset
root = Path(sys.argv[1])
assert compact_dataset(root).changed
assert validate_dataset(root).ok
assert first_episode_preview(root).frames > 0
print(sorted(name for name in ("pandas", "datasets") if name in sys.modules))
"""


def test_compaction_validation_and_the_preview_import_neither_pandas_nor_datasets(appended: Path,
                                                                                  tmp_path: Path) -> None:
    """pandas is ~44 MB and 0.3-1 s of import that a compaction, a validation or a run's preview never uses
    (pyarrow's `pa.array`, `pa.scalar`, `pc.equal` with a number and `pq.read_table` import it)."""
    out = tmp_path / "out"
    shutil.copytree(appended, out)
    done = subprocess.run([sys.executable, "-c", COMPACT_VALIDATE_PREVIEW, str(out / REPO)], cwd=PROJECT,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "[]"
