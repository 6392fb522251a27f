"""Synthetic ROS2 recordings with raw images, for the tests of the ROS2 read path.

Kuavo bags cover ROS1 and JPEG; this covers the other common case: a rosbag2 folder (mcap or sqlite3) with a
raw `sensor_msgs/msg/Image` camera in rgb8 or bgr8, a joint state and a velocity command. Images are exact
functions of the frame number and joints of time, so a reader can be checked byte for byte.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from dataprep.errors import DataprepError
from dataprep.sample.streams import merge_by_time

IMAGE_TOPIC = "/camera/image_raw"
JOINT_TOPIC = "/joint_states"
CMD_VEL_TOPIC = "/cmd_vel"
JOINT_NAMES: tuple[str, ...] = tuple(f"joint{i}" for i in range(1, 7))
ROSBAG2_VERSION: Literal[8, 9] = 9  # newest layout rosbags writes; AnyReader reads 1-9
_STORAGE = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_JOINT_OMEGA = 2 * np.pi * np.array([0.2, 0.25, 0.3, 0.35, 0.4, 0.45])
_JOINT_PHASE = np.arange(6) * 0.8


@dataclass(frozen=True)
class Ros2BagSpec:
    """What to record; small by default because these bags serve tests."""

    duration_s: float = 3.0
    start_ns: int = 1_700_000_000_000_000_000
    camera_hz: float = 15.0
    width: int = 160
    height: int = 120
    encoding: Literal["rgb8", "bgr8"] = "rgb8"
    joint_hz: float = 50.0
    storage: Literal["mcap", "sqlite3"] = "mcap"


def ros2_camera_frame(frame_number: int, height: int, width: int) -> np.ndarray:
    """Frame `frame_number` as RGB uint8: distinct per-channel gradients and a moving square, no noise."""
    yy, xx = np.mgrid[0:height, 0:width]
    red = (xx * 200) // max(1, width - 1) + 20
    green = (yy * 200) // max(1, height - 1) + 30
    blue = 120 + 60 * np.sin((xx + yy) * (2 * np.pi / 64))  # smooth, so it survives AV1 in converter tests
    img = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    side = max(2, min(height, width) // 5)
    x0 = int((width - side) * (0.5 + 0.5 * math.sin(2 * math.pi * frame_number / 37)))
    y0 = int((height - side) * (0.5 + 0.5 * math.cos(2 * math.pi * frame_number / 23)))
    img[y0 : y0 + side, x0 : x0 + side] = (20, 20, 30)  # dark, not saturated: chroma subsampling keeps it
    return img


def ros2_joint_positions(t_s: float) -> np.ndarray:
    """The 6 joint positions (rad) at t_s seconds into the recording."""
    return 0.8 * np.sin(_JOINT_OMEGA * t_s + _JOINT_PHASE)


def _ticks(spec: Ros2BagSpec, hz: float) -> Iterator[tuple[int, int]]:
    """(tick, time ns) on an exact rate grid over the recording."""
    for k in range(math.ceil(spec.duration_s * hz - 1e-9)):
        yield k, spec.start_ns + round(k * 1e9 / hz)


class _Messages:
    """Serialized CDR messages per topic, each a generator in time order."""

    def __init__(self, spec: Ros2BagSpec, store: Typestore) -> None:
        self.spec, self.store, self.t = spec, store, store.types

    def header(self, t_ns: int, frame_id: str) -> Any:
        stamp = self.t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        return self.t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)

    def ser(self, msg: object) -> bytes:
        return bytes(self.store.serialize_cdr(msg, msg.__msgtype__))  # type: ignore[attr-defined]

    def images(self) -> Iterator[tuple[int, bytes]]:
        spec = self.spec
        for k, t_ns in _ticks(spec, spec.camera_hz):
            rgb = ros2_camera_frame(k, spec.height, spec.width)
            pixels = rgb if spec.encoding == "rgb8" else np.ascontiguousarray(rgb[..., ::-1])
            yield t_ns, self.ser(self.t["sensor_msgs/msg/Image"](
                header=self.header(t_ns, "camera_optical_frame"), height=spec.height, width=spec.width,
                encoding=spec.encoding, is_bigendian=0, step=spec.width * 3, data=pixels.reshape(-1),
            ))

    def joints(self) -> Iterator[tuple[int, bytes]]:
        for _, t_ns in _ticks(self.spec, self.spec.joint_hz):
            s = (t_ns - self.spec.start_ns) / 1e9
            yield t_ns, self.ser(self.t["sensor_msgs/msg/JointState"](
                header=self.header(t_ns, "base_link"), name=list(JOINT_NAMES),
                position=ros2_joint_positions(s),
                velocity=0.8 * _JOINT_OMEGA * np.cos(_JOINT_OMEGA * s + _JOINT_PHASE), effort=np.zeros(6),
            ))

    def cmd_vel(self) -> Iterator[tuple[int, bytes]]:
        vec = self.t["geometry_msgs/msg/Vector3"]
        for _, t_ns in _ticks(self.spec, self.spec.joint_hz):
            s = (t_ns - self.spec.start_ns) / 1e9
            yield t_ns, self.ser(self.t["geometry_msgs/msg/Twist"](
                linear=vec(x=0.2 * math.sin(0.5 * s), y=0.0, z=0.0),
                angular=vec(x=0.0, y=0.0, z=0.1 * math.cos(0.5 * s)),
            ))




def write_ros2_bag(path: Path, spec: Ros2BagSpec = Ros2BagSpec()) -> Path:
    """Write a rosbag2 folder at `path` (metadata.yaml + one storage file) via a temporary folder."""
    if spec.encoding not in {"rgb8", "bgr8"}:
        raise DataprepError(f"Ros2BagSpec.encoding must be 'rgb8' or 'bgr8', got {spec.encoding!r}")
    if spec.storage not in _STORAGE:
        raise DataprepError(f"Ros2BagSpec.storage must be 'mcap' or 'sqlite3', got {spec.storage!r}")
    path = Path(path)
    if path.exists():
        raise DataprepError(f"{path} exists already; rosbag2 folders are never overwritten")
    staging = path.parent / f".{path.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    store = get_typestore(Stores.ROS2_HUMBLE)
    msgs = _Messages(spec, store)
    streams = [
        (IMAGE_TOPIC, "sensor_msgs/msg/Image", msgs.images()),
        (JOINT_TOPIC, "sensor_msgs/msg/JointState", msgs.joints()),
        (CMD_VEL_TOPIC, "geometry_msgs/msg/Twist", msgs.cmd_vel()),
    ]
    try:
        plugin = _STORAGE[spec.storage]
        with Writer(staging / path.name, version=ROSBAG2_VERSION, storage_plugin=plugin) as writer:
            conns = [writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype, _ in streams]
            for t_ns, index, data in merge_by_time(gen for _, _, gen in streams):
                writer.write(conns[index], t_ns, data)
        os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
