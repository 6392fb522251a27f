"""The synthetic bags must look like real recordings to rosbags, traps included, and carry exact signals."""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag1 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from dataprep.errors import DataprepError
from dataprep.sample.kuavo_bag import (
    ARM_TRAJ_TOPIC,
    CAMERA_TOPICS,
    CLAW_COMMAND_TOPIC,
    CLAW_STATE_TOPIC,
    JOINT_CMD_TOPIC,
    SENSORS_TOPIC,
    KuavoBagSpec,
    camera_frame,
    claw_command_times,
    ensure_kuavo_sample,
    frame_number_from_image,
    joint_positions,
    write_kuavo_bag,
)
from dataprep.sample.kuavo_msgs import KUAVO_MSG_DEFINITIONS
from dataprep.sample.ros2_bag import (
    CMD_VEL_TOPIC,
    IMAGE_TOPIC,
    JOINT_TOPIC,
    Ros2BagSpec,
    ros2_camera_frame,
    ros2_joint_positions,
    write_ros2_bag,
)

SPEC = KuavoBagSpec(
    duration_s=3.0, width=128, height=96, late_camera="cam_r", late_start_s=0.4,
    dropped_frames={"cam_l": (5, 6, 30), "cam_h": (10,)},
)
# md5s in the code LejuRobotics generated from kuavo_msgs (roslisp/roseus files in kuavo-ros-opensource)
REAL_MD5 = {
    "kuavo_msgs/msg/lejuClawState": "71c0eb8f4803a00f5667de51a2f70aac",
    "kuavo_msgs/msg/lejuClawCommand": "57c40e80f90e7a289ae0b2488552e043",
    "kuavo_msgs/msg/jointCmd": "9ed16f87b9f90b25cdeeb417f3c21f9e",
}
CONSTANT = re.compile(r"^[ \t]*\w+[ \t]+\w+[ \t]*=.*$", re.MULTILINE)  # [ \t]: \s would eat the newline


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def reader_typestore() -> Typestore:
    """What a reader does with Kuavo bags: Noetic types plus kuavo_msgs with the constant lines removed."""
    store = get_typestore(Stores.ROS1_NOETIC)
    for name, text in KUAVO_MSG_DEFINITIONS.items():
        store.register(get_types_from_msg(CONSTANT.sub("", text), name))
    return store


@pytest.fixture(scope="module")
def kuavo_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kuavo_bag(tmp_path_factory.mktemp("kuavo") / "episode.bag", SPEC)


@pytest.fixture(scope="module")
def kuavo_messages(kuavo_bag: Path) -> dict[str, list[tuple[int, object]]]:
    store = reader_typestore()
    out: dict[str, list[tuple[int, object]]] = defaultdict(list)
    with Reader(kuavo_bag) as reader:
        for conn, t_ns, raw in reader.messages():
            out[conn.topic].append((t_ns, store.deserialize_ros1(raw, conn.msgtype)))
    return out


def test_kuavo_bag_topic_counts_follow_the_spec(kuavo_messages: dict[str, list[tuple[int, object]]]) -> None:
    grid = round(SPEC.duration_s * SPEC.camera_hz)
    late = round(SPEC.late_start_s * SPEC.camera_hz)
    assert len(kuavo_messages[CAMERA_TOPICS["cam_h"]]) == grid - 1
    assert len(kuavo_messages[CAMERA_TOPICS["cam_l"]]) == grid - 3
    assert len(kuavo_messages[CAMERA_TOPICS["cam_r"]]) == grid - late
    assert len(kuavo_messages[SENSORS_TOPIC]) == len(kuavo_messages[JOINT_CMD_TOPIC]) == 300
    assert len(kuavo_messages[ARM_TRAJ_TOPIC]) == 90
    assert len(kuavo_messages[CLAW_STATE_TOPIC]) == 15
    assert len(kuavo_messages[CLAW_COMMAND_TOPIC]) == len(claw_command_times(SPEC.duration_s)) == 4


def test_kuavo_bag_receive_time_is_header_stamp_and_late_camera_starts_late(
    kuavo_messages: dict[str, list[tuple[int, object]]],
) -> None:
    for topic, items in kuavo_messages.items():
        times = [t for t, _ in items]
        assert times == sorted(times), topic
        for t_ns, msg in items:
            stamp = msg.header.stamp  # type: ignore[attr-defined]
            assert stamp.sec * 10**9 + stamp.nanosec == t_ns, topic
    first = {cam: kuavo_messages[topic][0][0] for cam, topic in CAMERA_TOPICS.items()}
    assert abs(first["cam_l"] - first["cam_h"]) < 5_000_000
    assert abs((first["cam_r"] - first["cam_h"]) / 1e9 - SPEC.late_start_s) < 0.005


def test_kuavo_bag_jpegs_decode_to_camera_frame_with_dropped_frames_skipped(
    kuavo_messages: dict[str, list[tuple[int, object]]],
) -> None:
    for cam, topic in CAMERA_TOPICS.items():
        numbers = []
        for _, msg in kuavo_messages[topic]:
            assert msg.format == "rgb8; jpeg compressed bgr8"  # type: ignore[attr-defined]
            bgr = cv2.imdecode(np.asarray(msg.data), cv2.IMREAD_COLOR)  # type: ignore[attr-defined]
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            n = msg.header.seq  # type: ignore[attr-defined]
            assert psnr(rgb, camera_frame(cam, n, SPEC.height, SPEC.width)) > 35, (cam, n)
            assert frame_number_from_image(rgb) == n
            numbers.append(n)
        dropped = set(SPEC.dropped_frames.get(cam, ()))
        assert numbers == [n for n in range(numbers[-1] + 1) if n not in dropped]


def test_camera_frames_are_distinct_per_camera_and_frame() -> None:
    a, b = camera_frame("cam_h", 3, 96, 128), camera_frame("cam_l", 3, 96, 128)
    assert a.dtype == np.uint8 and a.shape == (96, 128, 3)
    assert psnr(a, b) < 20
    assert psnr(a, camera_frame("cam_h", 4, 96, 128)) < 40
    assert np.array_equal(a, camera_frame("cam_h", 3, 96, 128))


def test_kuavo_bag_joint_and_claw_signals(kuavo_messages: dict[str, list[tuple[int, object]]]) -> None:
    for t_ns, msg in kuavo_messages[SENSORS_TOPIC][::37]:
        q = msg.joint_data.joint_q  # type: ignore[attr-defined]
        assert q.shape == (28,)
        np.testing.assert_allclose(q, joint_positions((t_ns - SPEC.start_ns) / 1e9))
    for t_ns, msg in kuavo_messages[ARM_TRAJ_TOPIC][::11]:
        arms = np.radians(msg.position)  # type: ignore[attr-defined]
        np.testing.assert_allclose(arms, joint_positions((t_ns - SPEC.start_ns) / 1e9)[12:26])
    for _, msg in kuavo_messages[CLAW_STATE_TOPIC]:
        assert len(msg.state) == 2 and set(msg.state) <= {1, 2}  # type: ignore[attr-defined]
        assert all(0 <= p <= 100 for p in msg.data.position)  # type: ignore[attr-defined]
    commands = [
        tuple(msg.data.position)  # type: ignore[attr-defined]
        for _, msg in kuavo_messages[CLAW_COMMAND_TOPIC]
    ]
    assert all(set(c) <= {0.0, 100.0} for c in commands)
    assert all(a != b for a, b in itertools.pairwise(commands))


def test_kuavo_bag_reproduces_the_lowercase_constant_hash_trap(kuavo_bag: Path) -> None:
    with Reader(kuavo_bag) as reader:
        conns = {c.msgtype: c for c in reader.connections}
    claw = conns["kuavo_msgs/msg/lejuClawState"]
    assert "int8 kError = -1" in claw.msgdef.data and "int8 kGrabbed = 3" in claw.msgdef.data
    assert "MSG: kuavo_msgs/endEffectorData" in claw.msgdef.data
    for msgtype, md5 in REAL_MD5.items():
        assert conns[msgtype].digest == md5
    with pytest.raises(AnyReaderError, match="hash mismatch"), AnyReader([kuavo_bag]):
        pass


def test_kuavo_embedded_definitions_parse_once_constants_are_removed(kuavo_bag: Path) -> None:
    expected = reader_typestore()
    with Reader(kuavo_bag) as reader:
        for conn in reader.connections:
            types = get_types_from_msg(CONSTANT.sub("", conn.msgdef.data), conn.msgtype)
            assert types[conn.msgtype][1] == expected.fielddefs[conn.msgtype][1]


def test_write_kuavo_bag_rejects_unknown_camera_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="cam_x"):
        write_kuavo_bag(tmp_path / "bad.bag", KuavoBagSpec(late_camera="cam_x"))
    write_kuavo_bag(tmp_path / "ok.bag", KuavoBagSpec(duration_s=0.5, width=64, height=48))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bag"]


def test_ensure_kuavo_sample_writes_once(tmp_path: Path) -> None:
    path = ensure_kuavo_sample(tmp_path / "sample" / "kuavo_sample.bag")
    assert path.stat().st_size > 0
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert ensure_kuavo_sample(path) == path
    assert path.stat().st_mtime_ns == 1_000_000_000


@pytest.mark.parametrize(
    ("storage", "encoding"), [("mcap", "rgb8"), ("sqlite3", "rgb8"), ("mcap", "bgr8")],
)
def test_ros2_bag_reads_back_exactly(tmp_path: Path, storage: str, encoding: str) -> None:
    spec = Ros2BagSpec(storage=storage, encoding=encoding)  # type: ignore[arg-type]
    path = write_ros2_bag(tmp_path / "bag", spec)
    assert (path / "metadata.yaml").is_file()
    assert len(list(path.glob("*.mcap" if storage == "mcap" else "*.db3"))) == 1
    counts: dict[str, int] = defaultdict(int)
    with AnyReader([path]) as reader:
        for conn, t_ns, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == IMAGE_TOPIC:
                rgb = ros2_camera_frame(counts[IMAGE_TOPIC], spec.height, spec.width)
                want = rgb if encoding == "rgb8" else rgb[..., ::-1]
                assert (msg.encoding, msg.step) == (encoding, spec.width * 3)
                assert bytes(msg.data) == np.ascontiguousarray(want).tobytes()
            elif conn.topic == JOINT_TOPIC:
                np.testing.assert_allclose(msg.position, ros2_joint_positions((t_ns - spec.start_ns) / 1e9))
            counts[conn.topic] += 1
    assert dict(counts) == {IMAGE_TOPIC: 45, JOINT_TOPIC: 150, CMD_VEL_TOPIC: 150}


def test_write_ros2_bag_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    with pytest.raises(DataprepError, match="exists"):
        write_ros2_bag(tmp_path / "bag")
