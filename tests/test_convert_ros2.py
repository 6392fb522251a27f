"""ROS2 bags with raw sensor_msgs/Image converted end to end, in video and in image-in-parquet mode."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from oracle import Rule, expected_frames, read_topics

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.lerobot.video import psnr, read_video_frames
from dataprep.sample import Ros2BagSpec, write_ros2_bag
from dataprep.sample.ros2_bag import ros2_camera_frame

MS = 1_000_000
FPS = 5
RULES = [Rule("/camera/image_raw", "nearest", 100 * MS), Rule("/joint_states", "nearest", 100 * MS),
         Rule("/cmd_vel", "asof", 200 * MS)]


def ros2_config(bag: Path, out: Path, **changes: object) -> ConvertConfig:
    data = {
        "input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/ros2", "fps": FPS,
        "robot_type": "arm", "task": "wave", "chunk_size": 4,
        "cameras": {"front": {"topic": "/camera/image_raw"}},
        "features": {
            "observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]},
            "action": {"align": {"policy": "asof", "tolerance_s": 0.2},
                       "parts": [{"topic": "/cmd_vel", "field": "linear.x"}, {"topic": "/cmd_vel", "field": "angular.z"}]},
        },
    }
    data.update(changes)
    return ConvertConfig.model_validate(data)


@pytest.mark.parametrize(("storage", "encoding"), [("mcap", "rgb8"), ("sqlite3", "bgr8")])
def test_raw_images_become_video_frames(tmp_path: Path, storage: str, encoding: str) -> None:
    spec = Ros2BagSpec(duration_s=3.0, storage=storage, encoding=encoding)
    bag = write_ros2_bag(tmp_path / "bag", spec)
    summary = convert_dataset(ros2_config(bag, tmp_path / "out")).dataset
    topics = read_topics(bag, [r.topic for r in RULES])
    expected = expected_frames({t: v[0] for t, v in topics.items()}, RULES, FPS, None, 0)
    assert summary.frames == len(expected.ticks) >= 13
    table = pq.read_table(summary.root / "data/chunk-000/file-000.parquet").to_pandas()
    frames = list(read_video_frames(summary.root / "videos/observation.images.front/chunk-000/file-000.mp4"))
    assert len(frames) == len(table) == summary.frames
    for frame, row, picks in zip(frames, table.itertuples(), expected.picks):
        # the generator publishes camera frame n as the n-th image message
        assert psnr(frame, ros2_camera_frame(picks[0], spec.height, spec.width)) > 30
        np.testing.assert_array_equal(row[1], topics["/joint_states"][1][picks[1]].position.astype(np.float32))
        twist = topics["/cmd_vel"][1][picks[2]]
        np.testing.assert_array_equal(row[2], np.array([twist.linear.x, twist.angular.z], dtype=np.float32))
    np.testing.assert_array_equal(table["timestamp"], (np.arange(len(table)) / FPS).astype(np.float32))
    hf = datasets.Dataset.from_parquet(str(summary.root / "data/chunk-000/file-000.parquet"))
    assert len(hf) == summary.frames and hf.features["observation.state"].length == 6
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert info["features"]["observation.images.front"]["shape"] == [spec.height, spec.width, 3]
    assert info["features"]["observation.state"]["shape"] == [6]


def test_image_mode_stores_the_exact_pixels_as_png(tmp_path: Path) -> None:
    spec = Ros2BagSpec(duration_s=2.0)
    bag = write_ros2_bag(tmp_path / "bag", spec)
    summary = convert_dataset(ros2_config(bag, tmp_path / "out", camera_storage="image")).dataset
    assert not (summary.root / "videos").exists()
    table = pq.read_table(summary.root / "data/chunk-000/file-000.parquet")
    assert table.schema.field("observation.images.front").type.names == ["bytes", "path"]
    topics = read_topics(bag, [r.topic for r in RULES])
    expected = expected_frames({t: v[0] for t, v in topics.items()}, RULES, FPS, None, 0)
    for cell, picks in zip(table.column("observation.images.front").to_pylist(), expected.picks):
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(cell["bytes"], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(decoded, ros2_camera_frame(picks[0], spec.height, spec.width))
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert info["features"]["observation.images.front"]["dtype"] == "image"
    assert info["video_path"] is None


def test_resize_and_h264(tmp_path: Path) -> None:
    bag = write_ros2_bag(tmp_path / "bag", Ros2BagSpec(duration_s=2.0))
    config = ros2_config(bag, tmp_path / "out", cameras={"front": {"topic": "/camera/image_raw", "resize": [64, 96]}},
                         video={"codec": "h264"})
    summary = convert_dataset(config).dataset
    frames = list(read_video_frames(summary.root / "videos/observation.images.front/chunk-000/file-000.mp4"))
    assert len(frames) == summary.frames and frames[0].shape == (64, 96, 3)
