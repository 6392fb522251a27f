"""Staging keys carry only what shapes a staged bag; unreadable or old staging is converted again; cleanup."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from parallel_helpers import PROJECT, kuavo_config, write_bags

from dataprep.config import ConvertConfig
from dataprep.config.models import DatasetSettings, RunSettings
from dataprep.conversion import clean_staging, convert_dataset
from dataprep.conversion.staging import bag_key, settings_hash, staging_root
from dataprep.errors import DataprepError
from flows.rosbag_to_lerobot import main

# A different, valid value for every run-only setting this version of the configuration has.
RUN_ONLY_VALUES = {
    "input": {"bags": ["elsewhere/*.bag"]}, "output_root": "/elsewhere", "repo_id": "other/name",
    "on_bag_error": "skip", "chunk_size": 7, "max_workers": "auto", "task_runner": {"dask": {"n_workers": 3}},
    "mode": "rebuild", "data_files_size_in_mb": 5, "video_files_size_in_mb": 5, "chunks_size": 10,
    "memory_budget_mb": 900, "compact_after_files": 20, "viewer": {"enabled": True, "out": "/elsewhere/viewer"},
    "stats_quantiles": "exact",
}


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bags(tmp_path_factory.mktemp("bags"), count=2)


def test_changing_a_run_only_setting_keeps_every_staging_key(bags: Path, tmp_path: Path) -> None:
    config = kuavo_config(bags, tmp_path)
    bag = bags / "bag_0.bag"
    present = sorted(RunSettings.model_fields)
    assert {"chunk_size", "max_workers", "task_runner"} <= set(present)
    for name in present:
        changed = ConvertConfig.model_validate({**config.model_dump(), name: RUN_ONLY_VALUES[name]})
        assert bag_key(bag, changed) == bag_key(bag, config), name
    for name, value in (("fps", 5), ("camera_storage", "image"), ("task", "Another task")):
        changed = ConvertConfig.model_validate({**config.model_dump(), name: value})
        assert bag_key(bag, changed) != bag_key(bag, config), name


def test_every_setting_is_either_what_the_dataset_is_or_how_a_run_goes() -> None:
    content, run = set(DatasetSettings.model_fields), set(RunSettings.model_fields)
    assert not content & run
    assert content | run == set(ConvertConfig.model_fields)
    assert set(RUN_ONLY_VALUES) == run  # every run setting is shown to keep the key above


# The run-only settings as staging.py listed them by hand before the split: the digest of the rest must not move,
# or every staged bag and every committed dataset's provenance would look stale after the upgrade.
_OLD_NOT_CONTENT = {
    "input", "output_root", "repo_id", "on_bag_error", "chunk_size", "memory_budget_mb", "max_workers",
    "task_runner", "mode", "data_files_size_in_mb", "video_files_size_in_mb", "chunks_size", "compact_after_files",
    "viewer", "stats_quantiles",
}


def test_the_settings_digest_is_the_one_computed_before_the_split() -> None:
    config = ConvertConfig.model_validate({
        "input": {"bags": ["x.bag"]}, "repo_id": "a/b", "fps": 30, "task": "pick",
        "features": {"observation.state": {"parts": [{"topic": "/joints", "field": "position"}]}},
        "cameras": {"head": {"topic": "/cam"}}})
    old = config.model_dump_json(exclude=_OLD_NOT_CONTENT)
    assert settings_hash(config) == hashlib.sha256(old.encode()).hexdigest()[:16] == "46797f3b71a60d59"
    assert settings_hash(kuavo_config(Path("x.bag"), Path("o"))) == hashlib.sha256(
        kuavo_config(Path("x.bag"), Path("o")).model_dump_json(exclude=_OLD_NOT_CONTENT).encode()).hexdigest()[:16]


def stage_without_commit(bags: Path, config: ConvertConfig) -> list[Path]:
    """Convert `bags` plus a broken bag with `on_bag_error: fail`: every good bag stays staged, none committed
    (a committed bag's staging is deleted, the dataset holds it). Returns the good bags' staging folders."""
    (bags / "broken.bag").write_bytes(b"not a bag")
    try:
        with pytest.raises(DataprepError, match=r"1 of 3 bag\(s\) failed"):
            convert_dataset(config)
    finally:
        (bags / "broken.bag").unlink()
    return [staging_root(config) / bag_key(bag, config) for bag in sorted(bags.glob("bag_*.bag"))]


def test_an_old_format_or_unreadable_staged_bag_is_converted_again(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    bags = write_bags(tmp_path / "bags", count=2)
    config = kuavo_config(bags, tmp_path / "out")
    folders = stage_without_commit(bags, config)
    marker = folders[0] / "bag.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "format": 0}))  # an older version's
    episode = next(folders[1].glob("episode-*"))
    (episode / "episode.json").write_text("{not json")  # damaged
    with caplog.at_level(logging.WARNING, logger="dataprep.conversion.staging"):
        again = convert_dataset(config)
    assert [bag.reused for bag in again.bags] == [False, False] and again.dataset.episodes == 2
    assert (f"{folders[0]}: converting the bag again: staged bag {folders[0]} has no readable bag.json: written "
            "in another staging format") in caplog.text
    assert f"{folders[1]}: converting the bag again: " in caplog.text and "episode.json is corrupt" in caplog.text


def test_a_staged_bag_is_reused_by_the_next_run(tmp_path: Path) -> None:
    bags = write_bags(tmp_path / "bags", count=2)
    config = kuavo_config(bags, tmp_path / "out")
    stage_without_commit(bags, config)
    assert [bag.reused for bag in convert_dataset(config).bags] == [True, True]


def test_clean_staging_removes_only_bags_no_longer_in_the_plan(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bags = write_bags(tmp_path / "bags", count=2)
    gone, kept = stage_without_commit(bags, kuavo_config(bags, tmp_path / "out"))
    (gone.parent / "not-a-bag").mkdir()  # not ours: never touched
    pipeline = tmp_path / "pipeline.yaml"  # the same settings as kuavo_config, with bag_0 gone from the input
    pipeline.write_text(f"rosbag_to_lerobot: {{extends: {PROJECT / 'configs/kuavo.yaml'}, input: {{bags: "
                        f"{bags / 'bag_1.bag'}}}, output_root: {tmp_path / 'out'}, repo_id: test/parallel}}\n")
    args = ["--config", str(pipeline), "--clean-staging"]
    assert main([*args, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would remove 1 staged bag(s) no longer in the plan" in printed and f"  - {gone.name}" in printed
    assert gone.is_dir()
    assert main(args) == 0
    assert "removed 1 staged bag(s)" in capsys.readouterr().out
    assert not gone.exists() and kept.is_dir() and (gone.parent / "not-a-bag").is_dir()
    again = clean_staging(kuavo_config(bags / "bag_1.bag", tmp_path / "out"))
    assert again.removed == () and again.kept == (kept,)
