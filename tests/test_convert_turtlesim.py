"""The real turtlesim recording (rosbag.js fixture): no camera, custom types from the bag's own definitions."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from oracle import Rule, expected_frames, read_topics

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset

MS = 1_000_000
RULES = [Rule("/turtle1/pose", "nearest", 10 * MS), Rule("/turtle1/cmd_vel", "hold")]


def turtle_config(bag: Path, out: Path) -> ConvertConfig:
    return ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/turtle", "fps": 10,
        "robot_type": "turtlesim", "task": "drive the turtle", "chunk_size": 50,
        "features": {
            "observation.state": {"names": ["x", "y", "theta"], "align": {"policy": "nearest", "tolerance_s": 0.01},
                                  "parts": [{"topic": "/turtle1/pose", "field": f} for f in ("x", "y", "theta")]},
            "action": {"names": ["linear_x", "angular_z"], "align": {"policy": "hold"},
                       "parts": [{"topic": "/turtle1/cmd_vel", "field": "linear.x"},
                                 {"topic": "/turtle1/cmd_vel", "field": "angular.z"}]},
        },
    })


@pytest.mark.parametrize("name", ["rosbagjs-example.bag", "rosbagjs-example-lz4.bag"])
def test_turtlesim_state_and_action_equal_the_recorded_messages(fixture_bags: Path, tmp_path: Path, name: str) -> None:
    bag = fixture_bags / name
    summary = convert_dataset(turtle_config(bag, tmp_path)).dataset
    topics = read_topics(bag, [r.topic for r in RULES])
    expected = expected_frames({t: v[0] for t, v in topics.items()}, RULES, 10, None, 0)
    # cmd_vel starts 1.5 s in and pose ends at 21.7 s: about 20 s of frames
    assert summary.frames == len(expected.ticks) == 202
    table = pq.read_table(summary.root / "data/chunk-000/file-000.parquet").to_pandas()
    for row, picks in zip(table.itertuples(), expected.picks):
        pose = topics["/turtle1/pose"][1][picks[0]]
        twist = topics["/turtle1/cmd_vel"][1][picks[1]]
        np.testing.assert_array_equal(row[1], np.array([pose.x, pose.y, pose.theta], dtype=np.float32))
        np.testing.assert_array_equal(row[2], np.array([twist.linear.x, twist.angular.z], dtype=np.float32))
    np.testing.assert_array_equal(table["timestamp"], (np.arange(len(table)) / 10).astype(np.float32))
    hf = datasets.Dataset.from_parquet(str(summary.root / "data/chunk-000/file-000.parquet"))
    assert hf[5]["observation.state"] == pytest.approx(list(table["observation.state"][5]))
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert info["video_path"] is None
    assert info["features"]["observation.state"]["names"] == ["x", "y", "theta"]
    assert set(info["features"]) == {"observation.state", "action", "timestamp", "frame_index", "episode_index",
                                     "index", "task_index"}
    stats = json.loads((summary.root / "meta/stats.json").read_text())
    state = np.stack(table["observation.state"].to_numpy()).astype(np.float64)
    np.testing.assert_allclose(stats["observation.state"]["mean"], state.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats["observation.state"]["std"], state.std(0), rtol=1e-5)
