"""Bags whose stored definitions are stubs or absent: standard definitions and the user's .msg folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_bag, convert_dataset
from dataprep.errors import DataprepError

GRIPPER_MSG = "float64 position\nfloat64[] forces\n"


def config_for(bag: Path, out: Path, features: dict, **changes: object) -> ConvertConfig:
    return ConvertConfig.model_validate({"input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/defs",
                                         "fps": 5, "task": "t", "features": features, **changes})


def write_stub_log_bag(bag: Path) -> Path:
    """rosbag2 sqlite3 whose stored definition of rcl_interfaces/msg/Log is the stub `uint8 level`."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    stub = get_typestore(Stores.EMPTY)
    stub.register(get_types_from_msg("uint8 level", "rcl_interfaces/msg/Log"))
    Log, Time = store.types["rcl_interfaces/msg/Log"], store.types["builtin_interfaces/msg/Time"]
    with Writer(bag, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conn = writer.add_connection("/rosout", "rcl_interfaces/msg/Log", msgdef="uint8 level",
                                     rihs01=stub.hash_rihs01("rcl_interfaces/msg/Log"))
        for i in range(15):
            msg = Log(stamp=Time(1, i), level=20, name="node", msg=f"hello {i}", file="f.py", function="fn", line=i)
            writer.write(conn, 10**9 + i * 10**8, store.serialize_cdr(msg, "rcl_interfaces/msg/Log"))
    return bag


def test_a_stub_definition_is_replaced_by_the_standard_one_and_the_report_says_so(tmp_path: Path) -> None:
    bag = write_stub_log_bag(tmp_path / "stub")
    config = config_for(bag, tmp_path / "out", {"observation.state": {"parts": [
        {"topic": "/rosout", "field": "level"}, {"topic": "/rosout", "field": "line"}]}})
    conversion = convert_bag(config, bag)
    assert conversion.notes == (("topic /rosout: the bag's stored definition of rcl_interfaces/msg/Log does not "
                                "decode its messages; used the standard ROS 2 Humble one instead"),)
    report = convert_dataset(config)
    table = pq.read_table(report.dataset.root / "data/chunk-000/file-000.parquet").to_pandas()
    values = np.stack(table["observation.state"].to_numpy())
    assert (values[:, 0] == 20).all() and list(values[:, 1]) == list(range(0, 2 * len(values), 2))  # 10 Hz at 5 fps


def write_undefined_gripper_bag(bag: Path) -> Path:
    """rosbag2 mcap with a custom type whose definition the bag does not carry."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register(get_types_from_msg(GRIPPER_MSG, "my_msgs/msg/Gripper"))
    Gripper = store.types["my_msgs/msg/Gripper"]
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/gripper", "my_msgs/msg/Gripper", msgdef="",
                                     rihs01=store.hash_rihs01("my_msgs/msg/Gripper"))
        for i in range(15):
            msg = Gripper(position=i / 10, forces=np.array([i, 2.0 * i]))
            writer.write(conn, 10**9 + i * 10**8, store.serialize_cdr(msg, "my_msgs/msg/Gripper"))
    return bag


def test_msg_paths_give_the_definitions_a_bag_lacks(tmp_path: Path) -> None:
    bag = write_undefined_gripper_bag(tmp_path / "bag")
    features = {"observation.state": {"parts": [{"topic": "/gripper", "field": "position"},
                                                {"topic": "/gripper", "field": "forces"}]}}
    with pytest.raises(DataprepError, match=r"the bag carries no definition of my_msgs/msg/Gripper, and it is not "
                                            r"a standard type; give the package's .msg files with `types: "):
        convert_dataset(config_for(bag, tmp_path / "out", features))
    (tmp_path / "msgs/my_msgs/msg").mkdir(parents=True)
    (tmp_path / "msgs/my_msgs/msg/Gripper.msg").write_text(GRIPPER_MSG)
    config = config_for(bag, tmp_path / "out", features, types={"msg_paths": [str(tmp_path / "msgs")]})
    summary = convert_dataset(config).dataset
    table = pq.read_table(summary.root / "data/chunk-000/file-000.parquet").to_pandas()
    first = np.asarray(table["observation.state"][3], dtype=np.float64)
    np.testing.assert_allclose(first, [0.6, 6.0, 12.0], rtol=1e-6)  # frame 3 at 5 fps: message 6 of 10 Hz
    with pytest.raises(DataprepError, match=r"types.msg_paths: .*empty holds no .msg file"):
        (tmp_path / "empty").mkdir()
        convert_dataset(config_for(bag, tmp_path / "out-empty", features, types={"msg_paths": str(tmp_path / "empty")}))


def test_a_ros1_stub_whose_recorded_md5_is_the_standard_types_uses_the_standard_definition(tmp_path: Path) -> None:
    """The stored text is a stub, but the md5 the recorder wrote is Noetic's JointState: the publisher used that."""
    from rosbags.rosbag1 import Writer as Ros1Writer

    store = get_typestore(Stores.ROS1_NOETIC)
    _, md5 = store.generate_msgdef("sensor_msgs/msg/JointState")
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    JointState = store.types["sensor_msgs/msg/JointState"]
    bag = tmp_path / "stub.bag"
    with Ros1Writer(bag) as writer:
        conn = writer.add_connection("/joints", "sensor_msgs/msg/JointState", msgdef="float64[] position", md5sum=md5)
        for i in range(15):
            msg = JointState(Header(i, Time(1, i), "b"), ["a", "b"], np.array([i, -i], float), np.zeros(0), np.zeros(0))
            writer.write(conn, 10**9 + i * 10**8, store.serialize_ros1(msg, "sensor_msgs/msg/JointState"))
    config = config_for(bag, tmp_path / "out", {"observation.state": {"parts": [
        {"topic": "/joints", "field": "position"}]}})
    conversion = convert_bag(config, bag)
    assert conversion.notes == (("topic /joints: the bag's stored definition of sensor_msgs/msg/JointState does not "
                                "match its recorded hash; used the standard one, whose hash it is"),)
    assert conversion.frames >= 7
