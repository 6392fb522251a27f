"""The chunk-by-chunk ROS1 reader yields what rosbags' reader yields, holds nothing per message, names damage."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from rosbags.rosbag1 import Reader, Writer
from rosbags.typesys import Stores, get_typestore

from dataprep.rosbag import BagError, BagReader
from dataprep.rosbag.ros1_stream import StreamingRos1Reader
from dataprep.sample import KuavoBagSpec, write_kuavo_bag

STORE = get_typestore(Stores.ROS1_NOETIC)


def _float_bag(path: Path, times: list[tuple[int, int]], chunk_bytes: int = 200) -> Path:
    """Float64 messages on two topics, written in the order given (not necessarily time order)."""
    float64 = STORE.types["std_msgs/msg/Float64"]
    with Writer(path) as writer:
        writer.chunk_threshold = chunk_bytes  # many small chunks
        conns = [writer.add_connection(f"/t{i}", "std_msgs/msg/Float64", typestore=STORE) for i in range(2)]
        for topic, time_ns in times:
            writer.write(conns[topic], time_ns, STORE.serialize_ros1(float64(float(time_ns)), "std_msgs/msg/Float64"))
    return path


def _stream(reader: Reader, topic: str | None = None) -> list[tuple[str, int, bytes]]:
    connections = [c for c in reader.connections if topic is None or c.topic == topic]
    return [(c.topic, t, bytes(d)) for c, t, d in reader.messages(connections=connections)]


def test_streaming_reader_yields_rosbags_stream_on_a_kuavo_bag(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "k.bag", KuavoBagSpec(duration_s=2.0, width=32, height=24, sensors_hz=500))
    with Reader(bag) as plain, StreamingRos1Reader(bag) as streaming:
        assert [(c.id, c.topic, c.msgtype, c.msgcount) for c in streaming.connections] == \
            [(c.id, c.topic, c.msgtype, c.msgcount) for c in plain.connections]
        assert (streaming.start_time, streaming.end_time) == (plain.start_time, plain.end_time)
        assert {t: i.msgcount for t, i in streaming.topics.items()} == {t: i.msgcount for t, i in plain.topics.items()}
        assert _stream(streaming) == _stream(plain)
        assert _stream(streaming, "/joint_cmd") == _stream(plain, "/joint_cmd")


def test_chunks_that_overlap_in_time_are_merged_into_time_order(tmp_path: Path) -> None:
    """A bag written out of time order has chunks whose ranges overlap; the messages still come sorted."""
    times = [(k % 2, (k * 7919) % 1000 * 1_000_000 + 10**9) for k in range(400)]
    bag = _float_bag(tmp_path / "shuffled.bag", times)
    with StreamingRos1Reader(bag) as streaming:
        assert len(streaming.chunk_pos) > 20
        got = _stream(streaming)
    assert [t for _, t, _ in got] == sorted(t for _, t in times)
    with Reader(bag) as plain:
        assert sorted(_stream(plain)) == sorted(got)


def test_open_holds_nothing_per_message(tmp_path: Path) -> None:
    """Index memory after open grows with chunks (24 bytes each), not with messages."""
    bag = _float_bag(tmp_path / "many.bag", [(k % 2, 10**9 + k * 1000) for k in range(60_000)], chunk_bytes=1 << 20)
    tracemalloc.start()
    try:
        with StreamingRos1Reader(bag):
            held, _ = tracemalloc.get_traced_memory()
        with Reader(bag):
            rosbags_held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 100_000  # connections and two chunks
    assert rosbags_held > 60_000 * 100  # rosbags: one record per message


def test_zeroed_chunk_data_names_the_chunk_offset_and_the_reindex_hint(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "k.bag", KuavoBagSpec(duration_s=1.0, width=32, height=24))
    with StreamingRos1Reader(bag) as reader:
        chunk = int(reader.chunk_pos[0])
    data = bytearray(bag.read_bytes())
    data[chunk + 5000: chunk + 9000] = bytes(4000)  # inside the first chunk's (uncompressed) records
    (tmp_path / "zeroed.bag").write_bytes(bytes(data))
    with BagReader(tmp_path / "zeroed.bag") as reader, pytest.raises(
            BagError, match=rf"zeroed.bag: read failed: damaged chunk at byte offset {chunk} \(record at byte \d+ of "
                            r"its data: .*\); .*reindex it with ROS1's `rosbag reindex`"):
        for _ in reader.messages(set(reader.topics)):
            pass


def test_a_file_that_is_not_a_bag_says_so(tmp_path: Path) -> None:
    (tmp_path / "x.bag").write_bytes(b"\xf5" * 100)
    with pytest.raises(BagError, match=r"x.bag: the file is not a bag, or its header is damaged"), \
            BagReader(tmp_path / "x.bag"):
        pass
