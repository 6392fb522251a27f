"""clock: receive | header per topic; zero and absurd header stamps detected, reported, never put on the grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_bag, convert_dataset
from dataprep.errors import DataprepError

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
LATENCY = 30 * MS  # the joint driver stamps 30 ms before the recorder receives


def write_stamped_bag(bag: Path, zero_stamps: tuple[int, ...] = (), absurd_stamps: tuple[int, ...] = ()) -> Path:
    """/joint_states (10 Hz, stamped LATENCY before receive, position = [k]) and /cmd_vel (10 Hz, on the grid)."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    t = store.types
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        joints = writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        cmd = writer.add_connection("/cmd_vel", "geometry_msgs/msg/Twist", typestore=store)
        for k in range(30):
            stamp = T0 + k * 100 * MS
            if k in zero_stamps:
                stamp = 0
            elif k in absurd_stamps:
                stamp -= 3600 * 10**9
            header = t["std_msgs/msg/Header"](t["builtin_interfaces/msg/Time"](stamp // 10**9, stamp % 10**9), "b")
            vec = t["geometry_msgs/msg/Vector3"]
            writer.write(cmd, T0 + k * 100 * MS, store.serialize_cdr(
                t["geometry_msgs/msg/Twist"](vec(float(k), 0.0, 0.0), vec(0.0, 0.0, 0.0)), "geometry_msgs/msg/Twist"))
            writer.write(joints, T0 + k * 100 * MS + LATENCY, store.serialize_cdr(t["sensor_msgs/msg/JointState"](
                header, ["j"], np.array([float(k)]), np.zeros(0), np.zeros(0)), "sensor_msgs/msg/JointState"))
    return bag


def config_for(bag: Path, out: Path, clock: dict, tolerance_s: float = 0.005) -> ConvertConfig:
    tight = {"policy": "nearest", "tolerance_s": tolerance_s}
    return ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/clock", "fps": 10, "task": "t",
        "clock": clock, "features": {
            "observation.state": {"align": tight, "parts": [{"topic": "/joint_states", "field": "position"}]},
            "action": {"align": tight, "parts": [{"topic": "/cmd_vel", "field": "linear.x"}]}}})


def state_and_action(root: Path) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pandas()
    return table["observation.state"].to_numpy(), table["action"].to_numpy()  # both of shape [1]: scalars


def test_header_clock_aligns_by_stamp_where_receive_time_cannot(tmp_path: Path) -> None:
    bag = write_stamped_bag(tmp_path / "bag")
    with pytest.raises(DataprepError, match=r"no frame could be aligned.*no /cmd_vel message within 5 ms"):
        convert_dataset(config_for(bag, tmp_path / "out", {}))  # by receive time the two are 30 ms apart, beyond 5 ms
    config = config_for(bag, tmp_path / "out", {"topics": {"/joint_states": "header"}})
    conversion = convert_bag(config, bag)
    assert conversion.frames == 30 and not conversion.dropped and not conversion.stamp_problems
    assert conversion.max_offset_ms["observation.state <- /joint_states position"] == 0.0
    state, action = state_and_action(convert_dataset(config).dataset.root)
    np.testing.assert_array_equal(state, action)  # the joint message stamped at the tick, not received there


def test_zero_and_absurd_stamps_are_dropped_on_a_header_clock_and_counted_on_both(tmp_path: Path) -> None:
    bag = write_stamped_bag(tmp_path / "bag", zero_stamps=(10, 11), absurd_stamps=(20,))
    header = convert_bag(config_for(bag, tmp_path / "h", {"topics": {"/joint_states": "header"}}), bag)
    assert header.stamp_problems == {"/joint_states: header stamp is zero": 2,
                                     "/joint_states: header stamp more than 10 s from receive time": 1}
    assert header.frames == 27  # the three ticks whose joint message had no usable stamp
    assert header.dropped == {"no /joint_states message within 5 ms (nearest)": 3}
    lenient = convert_bag(config_for(bag, tmp_path / "r", {"topics": {"/joint_states": "header"},
                                                           "max_skew_s": 7200}), bag)
    assert lenient.stamp_problems == {  # an hour early is within 7200 s, but all its ticks are decided by then
        "/joint_states: header stamp is zero": 2,
        "/joint_states: arrived after a later tick was decided (raise clock.header_slack_s)": 1}
    counted = convert_bag(config_for(bag, tmp_path / "c", {"default": "receive"}, tolerance_s=0.05), bag)
    assert counted.frames == 30  # on receive time the bad stamps cost nothing
    assert counted.stamp_problems == {"/joint_states: header stamp is zero": 2,
                                      "/joint_states: header stamp more than 10 s from receive time": 1}
