"""Reading real and synthetic bags: every format, the Kuavo constant trap, discovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader, AnyReaderError

from dataprep.rosbag import BagError, BagReader, extract_values, find_bags, parse_field_path
from dataprep.sample import KuavoBagSpec, write_kuavo_bag


@pytest.mark.parametrize("name", ["rosbagjs-example.bag", "rosbagjs-example-lz4.bag", "rosbags-rs-test_bag_mcap",
                                  "rosbag2-cdr_test_mcap", "rosbag2-cdr_test_sqlite3"])
def test_reads_what_anyreader_reads(fixture_bags: Path, name: str) -> None:
    bag = fixture_bags / name
    with AnyReader([bag]) as reference:
        expected = [(c.topic, t, raw) for c, t, raw in reference.messages()]
    with BagReader(bag) as reader:
        got = list(reader.messages(set(reader.topics)))
        assert {t: i.count for t, i in reader.topics.items()} == {
            t: sum(1 for e in expected if e[0] == t) for t in {e[0] for e in expected}}
    assert [(m.topic, m.time_ns) for m in got] == [(topic, t) for topic, t, _ in expected]


def test_bare_mcap_file_is_read_like_its_folder(fixture_bags: Path) -> None:
    folder = fixture_bags / "rosbag2-cdr_test_mcap"
    with BagReader(folder) as a, BagReader(folder / "cdr_test_0.mcap") as b:
        assert a.topics == b.topics
        assert [m.time_ns for m in a.messages({"/test_topic"})] == [m.time_ns for m in b.messages({"/test_topic"})]


def test_kuavo_lowercase_constants_are_read_where_anyreader_refuses(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "k.bag", KuavoBagSpec(duration_s=1.0, width=32, height=24))
    with pytest.raises(AnyReaderError, match="hash mismatch"), AnyReader([bag]):
        pass
    with BagReader(bag) as reader:
        claw = [m.msg for m in reader.messages({"/leju_claw_state"})]
        msgtype = reader.topics["/leju_claw_state"].msgtype
        assert {n: v for n, _, v in reader.typestore.fielddefs[msgtype][0]}["kError"] == -1
    assert len(claw) == 5
    assert extract_values(claw[0], parse_field_path("data.position")).shape == (2,)


def test_field_paths_with_indexes() -> None:
    assert parse_field_path("poses[2].position.x") == ("poses", 2, "position", "x")
    with pytest.raises(BagError, match="not a field name"):
        parse_field_path("a..b")

    class Msg:
        poses = (type("P", (), {"x": 1.5})(), type("P", (), {"x": 2.5})())

    np.testing.assert_array_equal(extract_values(Msg(), ("poses", 1, "x")), [2.5])


def test_find_bags_in_folders_globs_and_files(fixture_bags: Path, tmp_path: Path) -> None:
    shutil.copytree(fixture_bags / "rosbag2-cdr_test_mcap", tmp_path / "runs/a")
    shutil.copy(fixture_bags / "rosbagjs-example.bag", tmp_path / "runs/b.bag")
    (tmp_path / "runs/notes.txt").write_text("not a bag")
    found = find_bags([str(tmp_path / "runs")])
    assert [p.name for p in found] == ["a", "b.bag"]  # the .mcap inside a/ belongs to the folder
    assert find_bags([f"{tmp_path}/runs/*.bag", str(tmp_path / "runs/b.bag")]) == [tmp_path / "runs/b.bag"]
    with pytest.raises(BagError, match=r"notes\.txt is not a bag"):
        find_bags([str(tmp_path / "runs/notes.txt")])


def test_unreadable_bag_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bag"
    broken.write_bytes(b"#ROSBAG V2.0\n" + b"\0" * 64)
    with pytest.raises(BagError, match=f"cannot open bag {broken}"), BagReader(broken):
        pass


def test_definition_without_its_dependencies_is_completed_from_noetic(tmp_path: Path) -> None:
    """Old ROS1 bags can carry `Header header` without the Header definition; Noetic's fills the gap."""
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg("Header header\nfloat64 value\n", "my_msgs/msg/Stamped"))
    msgdef, md5 = store.generate_msgdef("my_msgs/msg/Stamped")
    bag = tmp_path / "old.bag"
    with Writer(bag) as writer:
        connection = writer.add_connection("/value", "my_msgs/msg/Stamped", msgdef="Header header\nfloat64 value\n",
                                           md5sum=md5, typestore=store)
        Stamped, Header, Time = (store.types[n] for n in ("my_msgs/msg/Stamped", "std_msgs/msg/Header",
                                                         "builtin_interfaces/msg/Time"))
        for i in range(3):
            msg = Stamped(Header(i, Time(1, 0), "f"), float(i) / 2)
            writer.write(connection, 10**9 + i, store.serialize_ros1(msg, "my_msgs/msg/Stamped"))
    assert "MSG: std_msgs/Header" in msgdef  # what a complete bag would have carried
    with BagReader(bag) as reader:
        assert [m.msg.value for m in reader.messages({"/value"})] == [0.0, 0.5, 1.0]


def test_rosbag2_folder_whose_metadata_qos_disagrees_is_read_from_its_storage_file(tmp_path: Path) -> None:
    """rosbags matches connections on QoS text: a disagreeing metadata.yaml yields 0 messages, no error."""
    import yaml
    from rosbags.rosbag2 import Reader

    from dataprep.sample import Ros2BagSpec, write_ros2_bag

    bag = write_ros2_bag(tmp_path / "bag", Ros2BagSpec(duration_s=1.0))
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    forever = "{sec: 2147483647, nsec: 4294967295}"
    qos = (f"- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline: {forever}\n"
           f"  lifespan: {forever}\n  liveliness: 1\n  liveliness_lease_duration: {forever}\n"
           "  avoid_ros_namespace_conventions: false\n")
    for topic in meta["rosbag2_bagfile_information"]["topics_with_message_count"]:
        topic["topic_metadata"]["offered_qos_profiles"] = qos
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    with Reader(bag) as plain:
        declared = sum(c.msgcount for c in plain.connections)
        assert declared > 0 and next(iter(plain.messages()), None) is None
    with BagReader(bag) as reader:
        assert sum(1 for _ in reader.messages(set(reader.topics))) == declared


def test_cut_off_recordings_are_listed_and_fail_with_a_reindex_hint(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "k.bag", KuavoBagSpec(duration_s=1.0, width=32, height=24))
    half = bag.read_bytes()[: bag.stat().st_size // 2]
    (tmp_path / "cut.bag").write_bytes(half)
    (tmp_path / "live.bag.active").write_bytes(half)
    assert [p.name for p in find_bags([str(tmp_path)])] == ["cut.bag", "k.bag", "live.bag.active"]
    with pytest.raises(BagError, match=r"cut.bag: .*damaged.*reindex it with ROS1's `rosbag reindex`"), \
            BagReader(tmp_path / "cut.bag"):
        pass
    with pytest.raises(BagError, match=r"live.bag.active is an unindexed ROS1 recording"), \
            BagReader(tmp_path / "live.bag.active"):
        pass
