"""Adopting datasets without meta/commit.json: an append after `lerobot-edit-dataset delete_episodes` keeps the
edit (the deleted bag's episode does not come back) and adds only new bags after the kept episodes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.config.models import InputSpec
from dataprep.conversion import convert_dataset, plan_conversion
from dataprep.conversion.staging import settings_hash
from dataprep.edit import read_source
from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PATH, CommitRecord
from dataprep.lerobot.quality_files import read_document
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.validate import validate_dataset
from tests.edit_helpers import episode_frames, snapshot

PROJECT = Path(__file__).resolve().parents[1]
GOLDEN = PROJECT / "tests/golden"
# the settings tests/golden/make_lerobot_edited.py converted a, b and c with
SETTINGS = ("data_files_size_in_mb=0.05", "video_files_size_in_mb=0.05", "chunk_size=10")


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bags")
    return [write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=64, height=48))
            for i, name in enumerate("abcd")]


def config_for(bags: list[Path], out: Path) -> ConvertConfig:
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                         [f"input.bags={bags[0]}", f"output_root={out}", "repo_id=local/ds", *SETTINGS])
    return config.model_copy(update={"input": InputSpec(bags=tuple(str(bag) for bag in bags))})


def lerobot_edited(bags: list[Path], out: Path) -> Path:
    """tests/golden/lerobot_deleted as lerobot left it: the edited dataset and, beside it, `ds_old` holding the
    original's record (its bags pointed at this test's copies of a, b and c)."""
    root = out / "local/ds"
    shutil.copytree(GOLDEN / "lerobot_deleted", root)
    record = json.loads((GOLDEN / "lerobot_deleted_backup/commit.json").read_text())
    for source, bag in zip(record["sources"], bags):
        source["path"] = str(bag.resolve())
    record["settings_hash"] = settings_hash(config_for(bags, out))  # the original was converted with these
    (out / "local/ds_old/meta").mkdir(parents=True)
    (out / "local/ds_old/meta/commit.json").write_text(json.dumps(record))
    return root


def test_an_append_after_lerobots_delete_keeps_the_edit_and_adds_only_the_new_bag(bags: list[Path],
                                                                                  tmp_path: Path) -> None:
    root = lerobot_edited(bags, tmp_path)
    before = [episode_frames(root, e) for e in range(2)]
    assert not (root / COMMIT_PATH).exists()
    report = convert_dataset(config_for(bags, tmp_path))
    assert [Path(b.bag).name for b in report.bags] == ["d.bag"]  # b, deleted by lerobot, does not come back
    source = read_source(root)
    assert len(source.episodes) == 3
    for e in range(2):  # lerobot's episodes as they were
        assert all(np.array_equal(a, b) for a, b in zip(episode_frames(root, e), before[e], strict=True))
    assert validate_dataset(root, decode_all=True).ok
    quality = read_document(root)
    assert quality is not None and [e.episode_index for e in quality.episodes] == [0, 1, 2]
    assert quality.episodes[2].provenance.bag == str(bags[3].resolve())
    record = CommitRecord.load(root)
    assert {Path(s.path).name for s in record.sources} == {"a.bag", "b.bag", "c.bag", "d.bag"}
    assert record.settings_hash == settings_hash(config_for(bags, tmp_path))
    rows = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert rows.num_rows > 0  # lerobot's data file is kept: the new episode went to a file after it


def test_a_dataset_that_lost_its_record_is_adopted_and_its_bags_are_known_from_quality_json(
    bags: list[Path], tmp_path: Path
) -> None:
    config = config_for(bags[:2], tmp_path)
    convert_dataset(config)
    (config.dataset_root / COMMIT_PATH).unlink()
    plan = plan_conversion(config_for(bags, tmp_path))
    assert [bag.name for bag in plan.bags] == ["c.bag", "d.bag"]  # a and b are in: named by quality.json
    assert CommitRecord.load(config.dataset_root).settings_hash == settings_hash(config)  # quality.json's


def test_a_foreign_dataset_without_episode_statistics_is_refused_with_the_way_out(bags: list[Path],
                                                                                   tmp_path: Path) -> None:
    root = tmp_path / "local/ds"
    shutil.copytree(GOLDEN / "lerobot_deleted", root)
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)  # as lerobot's convert_image_to_video writes it: no tasks, no stats
    pq.write_table(table.select([n for n in table.column_names if n != "tasks" and not n.startswith("stats/")]), path)
    before = snapshot(root)
    with pytest.raises(DataprepError, match=r"lacks .* column\(s\) an append builds on \(tasks, .*merge\)"):
        plan_conversion(config_for(bags, tmp_path))
    assert snapshot(root) == before
