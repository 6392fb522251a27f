"""Episodes from annotations (a sidecar of segments, each with its task) and from gaps of the required topics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_bag, convert_dataset
from dataprep.conversion.episode_sink import GAP_SPLIT, OUTSIDE_SEGMENTS
from dataprep.errors import DataprepError
from dataprep.lerobot.quality_files import read_document
from dataprep.sample import KuavoBagSpec, write_kuavo_bag

PROJECT = Path(__file__).resolve().parents[1]
KUAVO_MARKS = {"episode_id": 7, "marks": [  # Kuavo's annotation shape: times in s after the bag's start
    {"start": 0.5, "end": 1.95, "description": "pick up the cube"},
    {"start": 2.5, "end": 3.45, "description": "place it in the box"},
    {"start": 4.0, "end": 5.45, "description": "wave"}]}
KUAVO_SHAPE = ["episodes.annotations.list_key=marks", "episodes.annotations.task_key=description"]


def kuavo_config(bag: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                       [f"input.bags={bag}", f"output_root={out}", "repo_id=test/episodes", *overrides])


def test_annotations_split_one_bag_into_three_episodes_with_their_own_tasks(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "demo.bag", KuavoBagSpec(duration_s=6.0, width=64, height=48))
    (tmp_path / "demo.json").write_text(json.dumps(KUAVO_MARKS))
    config = kuavo_config(bag, tmp_path / "out", *KUAVO_SHAPE)
    report = convert_dataset(config)
    episodes = report.bags[0].episodes
    assert [e.task for e in episodes] == [m["description"] for m in KUAVO_MARKS["marks"]]
    assert [e.frames for e in episodes] == [15, 10, 15]  # ticks at 10 fps inside each segment
    for episode, mark in zip(episodes, KUAVO_MARKS["marks"]):
        assert mark["start"] <= episode.span_s[0] < mark["start"] + 0.1 and mark["end"] - 0.1 < episode.span_s[1] <= mark["end"]
    assert report.bags[0].trimmed[OUTSIDE_SEGMENTS] > 0
    root = report.dataset.root
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert sorted(tasks.index) == sorted(m["description"] for m in KUAVO_MARKS["marks"])
    data = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pandas()  # the episodes share one file
    assert set(data[data["episode_index"] == 2]["task_index"]) == {int(tasks.loc["wave", "task_index"])}
    quality = read_document(root)
    assert quality is not None and [e.task for e in quality.episodes] == [m["description"] for m in KUAVO_MARKS["marks"]]

    (tmp_path / "demo.json").write_text(json.dumps({"marks": [{"start": 2, "end": 1, "description": "x"}]}))
    with pytest.raises(DataprepError, match=r"demo.json: segment 0: needs end > start and a task text"):
        convert_bag(kuavo_config(bag, tmp_path / "out", *KUAVO_SHAPE), bag)  # a changed sidecar is read again
    with pytest.raises(DataprepError, match=r"annotation file .*other.json does not exist"):
        convert_bag(kuavo_config(bag, tmp_path / "out", "episodes.annotations.file=other.json",
                                 "episodes.annotations.required=true"), bag)


def test_a_gap_longer_than_split_on_gap_s_starts_a_new_episode_instead_of_dropping_through(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "stall.bag", KuavoBagSpec(duration_s=4.0, width=64, height=48,
                                                                dropped_frames={"cam_l": tuple(range(30, 60))}))
    plain = convert_bag(kuavo_config(bag, tmp_path / "a"), bag)
    (episode,) = plain.episodes
    dropped = sum(plain.dropped.values())
    assert dropped >= 9  # the 1 s silence of cam_l
    split = convert_bag(kuavo_config(bag, tmp_path / "b", "episodes.split_on_gap_s=0.5"), bag)
    first, second = split.episodes
    assert first.frames + second.frames == episode.frames
    assert first.span_s[1] < 1.0 and second.span_s[0] > 2.0  # the gap planted from 1 s to 2 s
    assert not split.dropped and split.trimmed[GAP_SPLIT] == dropped
