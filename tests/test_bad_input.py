"""Bad input fails with a message naming the bag, topic or field, and never costs data already written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from dataprep.config import ConfigError, ConvertConfig, PipelineConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.conversion.staging import staging_root
from dataprep.errors import DataprepError
from dataprep.sample import Ros2BagSpec, write_ros2_bag
from flows.convert_all import main


def config_for(bag: Path | str, out: Path, **changes: object) -> ConvertConfig:
    data = {
        "input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/bad", "fps": 5, "task": "t",
        "cameras": {"front": {"topic": "/camera/image_raw"}},
        "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}},
    }
    data.update(changes)
    return ConvertConfig.model_validate(data)


@pytest.fixture(scope="module")
def ros2_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ros2_bag(tmp_path_factory.mktemp("bad") / "bag", Ros2BagSpec(duration_s=1.5))


def assert_no_dataset_left(config: ConvertConfig) -> None:
    assert not config.dataset_root.exists()
    assert not list(config.output_root.rglob("info.json"))
    staging = staging_root(config)
    assert not staging.exists() or not any(staging.iterdir())


def test_missing_bag_folder_is_named(tmp_path: Path) -> None:
    config = config_for(tmp_path / "no-such-folder", tmp_path / "out")
    with pytest.raises(DataprepError, match="no-such-folder does not exist"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_folder_without_bags_and_glob_without_match(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataprepError, match="holds no bag"):
        convert_dataset(config_for(tmp_path / "empty", tmp_path / "out"))
    with pytest.raises(DataprepError, match="no bag matches"):
        convert_dataset(config_for(f"{tmp_path}/*.bag", tmp_path / "out"))


def test_topic_the_bag_lacks_names_bag_and_topic(ros2_bag: Path, tmp_path: Path) -> None:
    config = config_for(ros2_bag, tmp_path / "out", cameras={"front": {"topic": "/camera/missing"}})
    with pytest.raises(DataprepError, match=rf"bag {ros2_bag} has no topic /camera/missing; it has: .*/joint_states"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_field_path_that_does_not_exist_names_topic_and_field(ros2_bag: Path, tmp_path: Path) -> None:
    config = config_for(ros2_bag, tmp_path / "out", features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "positions"}]}})
    with pytest.raises(DataprepError, match=r"topic /joint_states: sensor_msgs/msg/JointState has no field 'positions'.*"
                                       r"its fields are: header, name, position"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_field_that_is_not_numeric(ros2_bag: Path, tmp_path: Path) -> None:
    config = config_for(ros2_bag, tmp_path / "out", features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "header.frame_id"}]}})
    with pytest.raises(DataprepError, match=r"field 'header\.frame_id' is not numeric"):
        convert_dataset(config)


def test_index_out_of_range_names_field_and_index(ros2_bag: Path, tmp_path: Path) -> None:
    config = config_for(ros2_bag, tmp_path / "out", features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "position", "index": 9}]}})
    with pytest.raises(DataprepError, match=r"topic /joint_states: field 'position': index 9 is out of range for 6"):
        convert_dataset(config)
    assert_no_dataset_left(config)
    empty = config_for(ros2_bag, tmp_path / "out", features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "position", "index": "4:2"}]}})
    with pytest.raises(DataprepError, match=r"field 'position': index 4:2 selects nothing of 6 values"):
        convert_dataset(empty)


def test_slice_past_the_end_of_the_field_fails_at_the_first_message(ros2_bag: Path, tmp_path: Path) -> None:
    """Python would give 2 of the asked 6 values; the converter refuses and says how many there are."""
    config = config_for(ros2_bag, tmp_path / "out", features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "position", "index": "4:10"}]}})
    with pytest.raises(DataprepError, match=r"topic /joint_states: field 'position': index 4:10 runs past the 6 "
                                            r"values of the field \(it would silently give 2\) \(message at t=1700000000"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_camera_topic_that_is_not_an_image(ros2_bag: Path, tmp_path: Path) -> None:
    config = config_for(ros2_bag, tmp_path / "out", cameras={"front": {"topic": "/joint_states"}})
    with pytest.raises(DataprepError, match="camera topic /joint_states has type sensor_msgs/msg/JointState"):
        convert_dataset(config)


def test_malformed_images_in_a_real_bag_are_dropped_and_counted(fixture_bags: Path, tmp_path: Path) -> None:
    """Its 640x480 rgb8 images carry 30 bytes each: never garbage pixels, every such frame dropped by reason."""
    bag = fixture_bags / "rosbags-rs-test_bag_mcap"
    config = config_for(bag, tmp_path / "out", cameras={"cam": {"topic": "/test/sensor_msgs/image"}}, features={})
    with pytest.raises(DataprepError, match=r"no frame kept: all 2 aligned frame\(s\) were dropped; dropped: .*"
                                            r"2 x /test/sensor_msgs/image: image payload does not match its declared size"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_declared_message_count_mismatch_is_an_error(ros2_bag: Path, tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    shutil.copytree(ros2_bag, bag)
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())
    for topic in metadata["rosbag2_bagfile_information"]["topics_with_message_count"]:
        if topic["topic_metadata"]["name"] == "/joint_states":
            topic["message_count"] += 5
    (bag / "metadata.yaml").write_text(yaml.safe_dump(metadata))
    config = config_for(bag, tmp_path / "out")
    with pytest.raises(DataprepError, match=r"message counts differ .*/joint_states: read \d+ of \d+"):
        convert_dataset(config)
    assert_no_dataset_left(config)


def test_a_failing_rerun_keeps_the_existing_dataset(ros2_bag: Path, tmp_path: Path) -> None:
    good = config_for(ros2_bag, tmp_path / "out")
    summary = convert_dataset(good).dataset
    info = (summary.root / "meta/info.json").read_text()
    bad = config_for(ros2_bag, tmp_path / "out", cameras={"front": {"topic": "/camera/missing"}})
    with pytest.raises(DataprepError):
        convert_dataset(bad)
    assert (summary.root / "meta/info.json").read_text() == info
    assert (summary.root / "data/chunk-000/file-000.parquet").is_file()


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"rosbag_to_lerobot": {
        "input": {"bags": "x"}, "repo_id": "a/b", "fps": 10, "task": "t", "chunk_sise": 3,
        "timeline": {"main_camera": "nope"}, "cameras": {"a/b": {"topic": "/x"}}}}))
    with pytest.raises(ConfigError) as err:
        load_config(PipelineConfig, path)
    message = str(err.value)
    assert str(path) in message
    assert "rosbag_to_lerobot.chunk_sise: Extra inputs are not permitted" in message
    assert "rosbag_to_lerobot.cameras" in message and "no '/'" in message
    with pytest.raises(ConfigError, match=r"features.s.parts.0.transforms.0: .*scale needs a value"):
        load_config(PipelineConfig, path, ["rosbag_to_lerobot.chunk_sise=null",
                                           "rosbag_to_lerobot.features.s.parts=[{topic: /x, field: y, transforms: [{scale: null}]}]"])


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   prefect_server: None) -> None:
    code = main(["--set", f"rosbag_to_lerobot.input.bags={tmp_path}/absent.bag",
                 "--set", "rosbag_to_lerobot.input.generate_sample_if_missing=false",
                 "--set", f"rosbag_to_lerobot.output_root={tmp_path}/out"])
    assert code == 2
    assert f"error: rosbag_to_lerobot: bag path {tmp_path}/absent.bag does not exist" in capsys.readouterr().err


def test_every_bag_is_attempted_and_failures_are_listed_together(ros2_bag: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bags"
    for name in ("a", "b"):
        shutil.copytree(ros2_bag, folder / name)
    (folder / "c.mcap").write_bytes(b"not an mcap file")
    (folder / "d.mcap").write_bytes(b"not one either")
    failing = config_for(folder, tmp_path / "out")
    with pytest.raises(DataprepError, match=r"2 of 4 bag\(s\) failed, so .* was not written") as err:
        convert_dataset(failing)
    for name in ("c.mcap", "d.mcap"):  # one block per bag: the bag, then its cause indented
        assert f"- {folder / name}\n    cannot open bag {folder / name}" in str(err.value)
    assert not failing.dataset_root.exists()
    staged = sorted(p.name.split("-")[0] for p in staging_root(failing).iterdir())
    assert staged == ["a", "b"]  # the good bags are kept for the rerun

    report = convert_dataset(config_for(folder, tmp_path / "out", on_bag_error="skip"))
    assert report.dataset.episodes == 2
    assert [f.unit for f in report.skipped] == [str(folder / "c.mcap"), str(folder / "d.mcap")]
    assert all(bag.reused for bag in report.bags)
    assert not staging_root(failing).exists()  # committed: the dataset holds the episodes, staging is gone


def test_an_undecodable_topic_is_named_and_other_topics_still_convert(tmp_path: Path) -> None:
    """Real bags can hold one topic that fails to deserialize ("CDR message size mismatch")."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    JointState, Header, Time = (store.types[n] for n in ("sensor_msgs/msg/JointState", "std_msgs/msg/Header",
                                                        "builtin_interfaces/msg/Time"))
    bag = tmp_path / "bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        good = writer.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        bad = writer.add_connection("/broken", "std_msgs/msg/Float64", typestore=store)
        for i in range(20):
            t = 10**9 + i * 10**8
            msg = JointState(Header(Time(1, i), "j"), ["a"], np.array([i / 10]), np.zeros(0), np.zeros(0))
            writer.write(good, t, store.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
            writer.write(bad, t + 1, b"\x00\x01\x00\x00\x01")  # truncated: not a Float64
    broken = config_for(bag, tmp_path / "out", cameras={}, features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]},
        "action": {"parts": [{"topic": "/broken", "field": "data"}]}})
    with pytest.raises(DataprepError, match=r"topic /broken \(std_msgs/msg/Float64\): cannot decode message 0"):
        convert_dataset(broken)
    assert_no_dataset_left(broken)
    fine = config_for(bag, tmp_path / "out", cameras={}, features={
        "observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}})
    assert convert_dataset(fine).dataset.frames >= 9
