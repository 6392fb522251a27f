# ruff: noqa: F401, F811 - `bags` is a fixture imported from tests.edit_helpers
"""The quality and commit files in parts: read back typed and written again they are the same bytes; an append
reads no committed part and writes only its own; a dataset the previous version wrote (everything inside
quality.json and commit.json) is read, viewed, edited and appended to, and the append migrates it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataprep.conversion import convert_dataset
from dataprep.edit import delete_episodes, read_source
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord, encode_sources, sources_part
from dataprep.lerobot.quality_files import (
    QUALITY_PATH,
    QualityEntry,
    QualityTotals,
    encode_head,
    encode_part,
    part_path,
    read_document,
    read_head,
)
from dataprep.validate import validate_dataset
from dataprep.viewer import write_viewer
from tests.edit_helpers import REPO, bags, config_for, episode_frames

GOLDEN = Path(__file__).resolve().parent / "golden" / "format1"  # written by tests/golden/make_format1.py


@pytest.fixture(scope="module")
def two_commits(bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of bags a, b (first commit) then c (an append)."""
    out = tmp_path_factory.mktemp("two_commits")
    convert_dataset(config_for(bags[:2], out))
    convert_dataset(config_for(bags[:3], out))
    return out / REPO


def test_every_committed_quality_and_commit_file_read_typed_and_written_back_is_byte_identical(
        two_commits: Path) -> None:
    root = two_commits
    head = (root / QUALITY_PATH).read_bytes()
    totals = QualityTotals.from_json(json.loads(head))
    assert encode_head(totals) == head and totals.parts == 2
    for index in range(totals.parts):
        part = (root / part_path(index)).read_bytes()
        entries = [QualityEntry.from_json(json.loads(line)) for line in part.decode().splitlines()]
        assert entries and all(e.quality is not None for e in entries)
        assert encode_part(entries) == part
    marker = (root / COMMIT_PATH).read_bytes()
    record = CommitRecord.load(root)
    assert record is not None and record.parts == 2 and len(record.sources) == 3
    assert (json.dumps(record.to_json(), indent=2) + "\n").encode() == marker
    assert encode_sources(record.sources[:2]) == (root / sources_part(0)).read_bytes()
    assert encode_sources(record.sources[2:]) == (root / sources_part(1)).read_bytes()


def test_an_append_reads_no_committed_part_and_links_them_as_they_are(
        bags: list[Path], two_commits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    shutil.copytree(two_commits.parents[1], out)
    root = out / REPO
    inodes = {p: (root / p).stat().st_ino for p in (part_path(0), part_path(1))}
    read: list[str] = []
    read_text = Path.read_text

    def counted(path: Path, *args: object, **kwargs: object) -> str:
        read.append(str(path))
        return read_text(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    report = convert_dataset(config_for(bags[:4], out))
    monkeypatch.undo()

    assert report.dataset.episodes == 4 and [e.episode_index for e in report.quality.episodes] == [3]
    assert report.quality.totals.episodes == 4  # the report: the dataset's totals, this run's episodes
    assert not [p for p in read if "part-000000" in p or "part-000001" in p]  # committed entries: not read
    assert {p: (root / p).stat().st_ino for p in inodes} == inodes  # linked into the new version, not rewritten
    document = read_document(root)
    assert document is not None and [e.episode_index for e in document.episodes] == [0, 1, 2, 3]
    assert Path(document.episodes[3].provenance.bag).name == "d.bag"


def as_json(entries: Sequence[QualityEntry]) -> list[dict[str, Any]]:
    """Entries as their JSON reads back (tuples as lists)."""
    return [json.loads(json.dumps(e.to_json())) for e in entries]


def format1_copy(bags: list[Path], tmp_path: Path) -> Path:
    """The golden dataset of the previous version, its record's bags pointed at this test's a and b."""
    root = tmp_path / "out" / REPO
    shutil.copytree(GOLDEN, root)
    record = json.loads((root / COMMIT_PATH).read_text())
    assert record["format"] == 1
    for source, bag in zip(record["sources"], bags[:2], strict=True):
        source["path"] = str(bag.resolve())
    (root / COMMIT_PATH).write_text(json.dumps(record, indent=2) + "\n")
    return root


def test_a_dataset_the_previous_version_wrote_is_read_and_viewed(bags: list[Path], tmp_path: Path) -> None:
    root = format1_copy(bags, tmp_path)
    record, document, totals = CommitRecord.load(root), read_document(root), read_head(root)
    assert record is not None and [Path(s.path).name for s in record.sources] == ["a.bag", "b.bag"]
    assert record.parts == 0 and (record.episodes, record.frames) == (2, 25)
    assert document is not None and totals is not None and totals == document.totals
    assert [e.episode_index for e in document.episodes] == [0, 1] and totals.episodes == 2
    old = json.loads((root / QUALITY_PATH).read_text())
    assert as_json(document.episodes) == old["episodes"]  # every field of the old entries kept
    assert document.failing_episodes == old["dataset"]["failing_episodes"]
    assert totals.mean_score == old["dataset"]["mean_score"] and totals.topics.keys() == old["dataset"]["topics"].keys()
    assert validate_dataset(root).ok
    summary = write_viewer(root, tmp_path / "viewer")
    assert summary.episodes == 2
    index = (summary.index.parent / "data" / "index.js").read_text()
    assert f'"mean_score":{old["dataset"]["mean_score"]}' in index


def test_an_append_to_the_previous_versions_dataset_migrates_it_and_keeps_its_episodes(
        bags: list[Path], tmp_path: Path) -> None:
    root = format1_copy(bags, tmp_path)
    old = json.loads((root / QUALITY_PATH).read_text())
    before = [episode_frames(root, e) for e in range(2)]

    report = convert_dataset(config_for(bags[:3], tmp_path / "out"))

    assert [Path(b.bag).name for b in report.bags] == ["c.bag"]  # a and b are known from the old record
    record = CommitRecord.load(root)
    assert record is not None and record.parts == 1 and json.loads((root / COMMIT_PATH).read_text())["format"] == 2
    assert [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources] == [
        ("a.bag", 0, 1), ("b.bag", 1, 2), ("c.bag", 2, 3)]
    document = read_document(root)
    assert document is not None and document.totals.parts == 2  # part 0: the migrated entries; part 1: c's
    assert as_json(document.episodes[:2]) == old["episodes"]
    assert document.totals.episodes == 3 and Path(document.episodes[2].provenance.bag).name == "c.bag"
    for e in range(2):
        assert all(np.array_equal(a, b) for a, b in zip(episode_frames(root, e), before[e], strict=True))
    assert validate_dataset(root).ok
    again = convert_dataset(config_for(bags[:4], tmp_path / "out"))  # and on in format 2
    assert again.dataset.episodes == 4 and (read_head(root) or QualityTotals("")).parts == 3


def test_an_edit_of_the_previous_versions_dataset_keeps_quality_and_record_true(
        bags: list[Path], tmp_path: Path) -> None:
    root = format1_copy(bags, tmp_path)
    delete_episodes(root, [0])
    assert len(read_source(root).episodes) == 1
    document = read_document(root)
    assert document is not None and [e.episode_index for e in document.episodes] == [0]
    assert Path(document.episodes[0].provenance.bag).name == "b.bag"
    assert document.excluded[-1].removed_by == "delete" and document.totals.episodes == 1
    record = CommitRecord.load(root)
    assert record is not None and [(Path(s.path).name, s.first_episode, s.end_episode) for s in record.sources] == [
        ("a.bag", 0, 0), ("b.bag", 0, 1)]
    assert validate_dataset(root).ok
