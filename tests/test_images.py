"""Image encodings: depth maps keep their metric scale losslessly; bad payloads drop the frame, counted."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.features import decode_image

STORE = get_typestore(Stores.ROS2_HUMBLE)
T = STORE.types
H, W, FRAMES = 12, 16, 10
T0 = 1_700_000_000_000_000_000


def depth_mm(k: int) -> np.ndarray:
    """Frame k's planted depth, millimetres: a ramp across the image that moves with k."""
    yy, xx = np.mgrid[0:H, 0:W]
    return (400 + 37 * xx + 101 * yy + 13 * k).astype(np.uint16)


def header(t_ns: int) -> object:
    return T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](t_ns // 10**9, t_ns % 10**9), "cam")


def image(t_ns: int, encoding: str, pixels: np.ndarray, step: int) -> bytes:
    msg = T["sensor_msgs/msg/Image"](header(t_ns), H, W, encoding, 0, step, np.frombuffer(pixels.tobytes(), np.uint8))
    return bytes(STORE.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def compressed_depth(t_ns: int, depth: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", depth)
    assert ok
    data = struct.pack("<iff", 0, 0.0, 0.0) + png.tobytes()  # compressed_depth_image_transport's header
    msg = T["sensor_msgs/msg/CompressedImage"](header(t_ns), "16UC1; compressedDepth png", np.frombuffer(data, np.uint8))
    return bytes(STORE.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage"))


def write_depth_bag(bag: Path, truncated: int) -> Path:
    """16UC1 raw, compressedDepth, 32FC1 and mono16 cameras at 10 Hz; raw frame `truncated` lacks 10 bytes."""
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=STORE) for topic, msgtype in [
            ("/depth/raw", "sensor_msgs/msg/Image"), ("/depth/compressed", "sensor_msgs/msg/CompressedImage"),
            ("/depth/float", "sensor_msgs/msg/Image"), ("/ir", "sensor_msgs/msg/Image")]}
        for k in range(FRAMES):
            t = T0 + k * 100_000_000
            raw = image(t, "16UC1", depth_mm(k), W * 2)
            if k == truncated:
                msg = STORE.deserialize_cdr(raw, "sensor_msgs/msg/Image")
                raw = bytes(STORE.serialize_cdr(T["sensor_msgs/msg/Image"](
                    msg.header, H, W, "16UC1", 0, W * 2, msg.data[:-10]), "sensor_msgs/msg/Image"))
            writer.write(conns["/depth/raw"], t, raw)
            writer.write(conns["/depth/compressed"], t, compressed_depth(t, depth_mm(k)))
            writer.write(conns["/depth/float"], t, image(t, "32FC1", depth_mm(k).astype("<f4") / 1000, W * 4))
            writer.write(conns["/ir"], t, image(t, "mono16", (depth_mm(k) * 64).astype("<u2"), W * 2))
    return bag


def test_depth_maps_keep_millimetres_losslessly_and_bad_payloads_are_dropped(tmp_path: Path) -> None:
    bag = write_depth_bag(tmp_path / "bag", truncated=4)
    config = ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(tmp_path / "out"), "repo_id": "test/depth", "fps": 10,
        "task": "t", "camera_storage": "image", "timeline": {"main_camera": "raw"},
        "cameras": {"raw": {"topic": "/depth/raw", "depth": True},
                    "packed": {"topic": "/depth/compressed", "depth": True},
                    "metres": {"topic": "/depth/float", "depth": True},
                    "ir": {"topic": "/ir"}}})
    report = convert_dataset(config)
    assert report.bags[0].dropped == {"/depth/raw: image payload does not match its declared size": 1}
    table = pq.read_table(report.dataset.root / "data/chunk-000/file-000.parquet")

    def pixels(name: str, row: int, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
        cell = table.column(f"observation.images.{name}")[row].as_py()
        decoded = cv2.imdecode(np.frombuffer(cell["bytes"], np.uint8), flags)
        assert decoded is not None, f"{name} row {row} does not decode"
        return decoded

    kept = [(int(pixels("raw", row)[0, 0]) - 400) // 13 for row in range(table.num_rows)]
    assert 4 not in kept and len(kept) == report.dataset.frames >= 7 and kept == sorted(kept)
    for name in ("raw", "packed", "metres"):
        for row, k in enumerate(kept):
            decoded = pixels(name, row)
            assert decoded.dtype == np.uint16
            np.testing.assert_array_equal(decoded, depth_mm(k), err_msg=f"{name} frame {k}")
    ir = pixels("ir", 0, cv2.IMREAD_COLOR)  # a colour camera on mono16: the top 8 bits, as grey
    np.testing.assert_array_equal(ir[..., 0], ((depth_mm(kept[0]) * 64) >> 8).astype(np.uint8))
    info = json.loads((report.dataset.root / "meta/info.json").read_text())
    assert info["features"]["observation.images.raw"]["shape"] == [H, W, 1]
    assert info["features"]["observation.images.raw"]["info"] == {"is_depth_map": True, "depth_unit": "mm"}
    assert info["features"]["observation.images.ir"]["shape"] == [H, W, 3]
    stats = json.loads((report.dataset.root / "meta/stats.json").read_text())
    assert 400 < stats["observation.images.raw"]["mean"][0][0][0] < 2100  # millimetres, not scaled to [0, 1]


def test_four_channel_encodings_drop_alpha() -> None:
    rgba = np.dstack([np.full((H, W), v, np.uint8) for v in (10, 20, 30, 255)])
    for encoding, pixels in (("rgba8", rgba), ("bgra8", rgba[..., [2, 1, 0, 3]])):
        msg = STORE.deserialize_cdr(image(T0, encoding, np.ascontiguousarray(pixels), W * 4), "sensor_msgs/msg/Image")
        np.testing.assert_array_equal(decode_image(msg, "sensor_msgs/msg/Image", "x")[0, 0], [10, 20, 30])


def test_a_compressed_frame_that_does_not_decode_is_dropped_and_counted(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/cam", "sensor_msgs/msg/CompressedImage", typestore=STORE)
        for k in range(FRAMES):
            t = T0 + k * 100_000_000
            _ok, jpeg = cv2.imencode(".jpg", np.full((H, W, 3), 20 * k, np.uint8))
            data = b"\xff\xd8 not a jpeg" if k == 3 else jpeg.tobytes()
            writer.write(conn, t, bytes(STORE.serialize_cdr(T["sensor_msgs/msg/CompressedImage"](
                header(t), "jpeg", np.frombuffer(data, np.uint8)), "sensor_msgs/msg/CompressedImage")))
    config = ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(tmp_path / "out"), "repo_id": "test/jpeg", "fps": 10,
        "task": "t", "camera_storage": "image", "cameras": {"cam": {"topic": "/cam"}}})
    report = convert_dataset(config)
    assert report.bags[0].dropped == {"/cam: compressed image cannot be decoded": 1}
    assert report.dataset.frames == FRAMES - 1  # every tick but the corrupt one
