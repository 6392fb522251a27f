"""Synthetic Leju Kuavo 4Pro-like ROS1 bags: the bundled sample, test fixtures and benchmark inputs.

Real Kuavo recordings cannot ship with the product, so this module writes look-alikes with rosbags' own ROS1
writer. They keep what makes real bags hard: three JPEG cameras that start at different times and drop
frames, signals at different rates (100 Hz sensors, 30 Hz arm trajectory in degrees, 5 Hz claw state, claw
commands only on change), and the `kuavo_msgs/lejuClawState` definition with lowercase constants, embedded
with the text and md5 real ROS writes, so rosbags' AnyReader refuses the bag ("hash mismatch") as it refuses
real ones. Every signal is a deterministic function of time or frame number, so tests can check what a
converter produced; messages are generated lazily in time order and streamed, so a 200 s bag never sits in
memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag1 import Writer
from rosbags.typesys.store import Typestore

from dataprep.errors import DataprepError
from dataprep.sample.kuavo_msgs import KUAVO_MSG_DEFINITIONS, full_text, kuavo_typestore
from dataprep.sample.streams import merge_by_time

CAMERA_TOPICS: dict[str, str] = {
    "cam_h": "/cam_h/color/image_raw/compressed",
    "cam_l": "/cam_l/color/image_raw/compressed",
    "cam_r": "/cam_r/color/image_raw/compressed",
}
SENSORS_TOPIC = "/sensors_data_raw"
JOINT_CMD_TOPIC = "/joint_cmd"
ARM_TRAJ_TOPIC = "/kuavo_arm_traj"
CLAW_STATE_TOPIC = "/leju_claw_state"
CLAW_COMMAND_TOPIC = "/leju_claw_command"
ARM_JOINT_NAMES: tuple[str, ...] = tuple(f"zarm_{side}{i}_joint" for side in "lr" for i in range(1, 8))
CLAW_NAMES: tuple[str, str] = ("left_claw", "right_claw")
JPEG_FORMAT = "rgb8; jpeg compressed bgr8"  # what ROS1 compressed_image_transport writes for an rgb8 camera


@dataclass(frozen=True)
class KuavoBagSpec:
    """What to record; the default rates and image size follow real Kuavo 4Pro recordings."""

    duration_s: float = 10.0
    start_ns: int = 1_700_000_000_000_000_000
    camera_hz: float = 30.0
    width: int = 640
    height: int = 480
    late_camera: str | None = None  # this camera's first message comes late_start_s after the others
    late_start_s: float = 0.0
    dropped_frames: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # camera -> frame numbers
    sensors_hz: float = 100.0
    arm_traj_hz: float = 30.0
    claw_state_hz: float = 5.0
    jpeg_quality: int = 90
    # per-pixel sensor noise, +-noise levels, new every frame: what makes a real camera's frames 10-50 KB once
    # encoded (a noiseless synthetic frame compresses to ~1.5 KB); 0 keeps the bundled sample unchanged
    noise: int = 0


# The bundled sample: small enough to generate in a second, with both camera traps present. The wrist
# camera loses 8 frames (~270 ms) once, more than the preset's 40 ms tolerance absorbs, so a first run shows
# frames dropped and counted by reason; its other gaps are single frames the tolerance covers.
SAMPLE_SPEC = KuavoBagSpec(
    duration_s=8.0, width=320, height=240, late_camera="cam_r", late_start_s=0.4,
    dropped_frames=MappingProxyType({"cam_l": (40, 41, *range(120, 128), 190), "cam_h": (200,)}),
)


_IDX = np.arange(28)
_AMPLITUDE = np.where(_IDX < 12, 0.12, np.where(_IDX < 26, 0.5, 0.25))  # rad: legs sway, arms move, head
_OMEGA = 2 * np.pi * (0.11 + 0.017 * _IDX)  # rad/s, a distinct slow frequency per joint
_PHASE = 0.9 * _IDX
_OFFSET = np.concatenate([np.tile([0.0, 0.0, -0.3, 0.6, -0.3, 0.0], 2), np.zeros(16)])  # standing knee bend
_CLAW_FIRST_TOGGLE_S = (1.5, 0.75)  # left, right: their commands never change at the same instant
_CLAW_PERIOD_S = 1.5
_CLAW_SPEED = 200.0  # percent per second: a full stroke takes 0.5 s


def joint_positions(t_s: float) -> np.ndarray:
    """The 28 `joint_q` values (rad) at t_s seconds into the recording: legs 0-11, arms 12-25, head 26-27."""
    values: np.ndarray = _OFFSET + _AMPLITUDE * np.sin(_OMEGA * t_s + _PHASE)
    return values


def _claw_toggles(t_s: float, side: int) -> int:
    first = _CLAW_FIRST_TOGGLE_S[side]
    return 0 if t_s < first else int((t_s - first) // _CLAW_PERIOD_S) + 1


def claw_command(t_s: float) -> tuple[float, float]:
    """Commanded (left, right) claw position, 0 open .. 100 closed; each side toggles every 1.5 s."""
    return (100.0 * (_claw_toggles(t_s, 0) % 2), 100.0 * (_claw_toggles(t_s, 1) % 2))


def claw_position(t_s: float) -> tuple[float, float]:
    """Measured (left, right) claw position: ramps towards the command at a fixed speed."""
    out = [0.0, 0.0]
    for side in (0, 1):
        if n := _claw_toggles(t_s, side):
            travel = min(100.0, _CLAW_SPEED * (t_s - _CLAW_FIRST_TOGGLE_S[side] - (n - 1) * _CLAW_PERIOD_S))
            out[side] = travel if n % 2 else 100.0 - travel
    return out[0], out[1]


def claw_command_times(duration_s: float) -> list[float]:
    """Seconds at which /leju_claw_command is published: the start, then every change."""
    toggles = {
        first + k * _CLAW_PERIOD_S
        for first in _CLAW_FIRST_TOGGLE_S
        for k in range(max(0, math.ceil((duration_s - first) / _CLAW_PERIOD_S)))
    }
    return [0.0, *sorted(t for t in toggles if t < duration_s)]


_CAMERA_STYLE: dict[str, tuple[tuple[float, ...], tuple[int, int, int], int, int]] = {
    # gradient (r0, rx, ry, g0, gx, gy, b0, bx, by), block RGB, x period, y period (frames, coprime)
    "cam_h": ((40, 150, 20, 60, 30, 140, 170, -80, 40), (245, 240, 230), 97, 61),
    "cam_l": ((170, -90, 40, 50, 150, 10, 60, 30, 130), (25, 30, 40), 89, 53),
    "cam_r": ((60, 40, 130, 160, -70, 50, 40, 160, 20), (200, 120, 110), 83, 59),
}


def _background(camera: str, height: int, width: int) -> np.ndarray:
    """The static part of a camera image: smooth gradients plus a faint texture that JPEG and AV1 keep."""
    if camera not in _CAMERA_STYLE:
        raise DataprepError(f"unknown sample camera {camera!r}; expected one of {sorted(_CAMERA_STYLE)}")
    c = _CAMERA_STYLE[camera][0]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xx / width, yy / height
    texture = 6.0 * np.sin(xx * (2 * np.pi / 23)) * np.sin(yy * (2 * np.pi / 17))
    chans = [c[i] + c[i + 1] * u + c[i + 2] * v + texture for i in (0, 3, 6)]
    values: np.ndarray = np.clip(np.stack(chans, axis=-1), 0, 255).astype(np.uint8)
    return values


def _draw(background: np.ndarray, camera: str, frame_number: int) -> np.ndarray:
    """Background plus the moving block and the frame-number code of one frame."""
    _, color, period_x, period_y = _CAMERA_STYLE[camera]
    img = background.copy()
    height, width = img.shape[:2]
    bh, bw = max(2, height // 6), max(2, width // 6)
    cx = 0.5 * width + 0.35 * width * math.sin(2 * math.pi * frame_number / period_x)
    cy = 0.5 * height + 0.3 * height * math.sin(2 * math.pi * frame_number / period_y + 1.0)
    x0, y0 = int(cx) - bw // 2, int(cy) - bh // 2
    img[max(0, y0) : y0 + bh, max(0, x0) : x0 + bw] = color
    cell = max(4, width // 64)
    for bit in range(16):  # frame number in binary along the top edge, readable after lossy encoding
        img[:cell, bit * cell : (bit + 1) * cell] = 230 if (frame_number >> bit) & 1 else 25
    return img


def camera_frame(camera: str, frame_number: int, height: int, width: int) -> np.ndarray:
    """Frame `frame_number` (counted from the camera's first message) as RGB uint8, without noise."""
    return _draw(_background(camera, height, width), camera, frame_number)


def frame_number_from_image(image: np.ndarray) -> int:
    """Read back the 16-bit frame number drawn along the top edge, e.g. from a decoded video frame."""
    cell = max(4, image.shape[1] // 64)
    row = image[cell // 2, :, :3].astype(np.float32).mean(axis=-1)
    return sum(1 << bit for bit in range(16) if row[bit * cell + cell // 2] > 127)


Stream = Iterator[tuple[int, bytes]]


def _grid(spec: KuavoBagSpec, hz: float, salt: int, first: int = 0) -> Iterator[tuple[int, int]]:
    """(tick, receive time ns) on a rate grid, with a per-stream offset and a deterministic 0-1 ms jitter."""
    offset = (salt % 5) * 1_000_000
    for k in range(first, math.ceil(spec.duration_s * hz - 1e-9)):
        yield k, spec.start_ns + offset + round(k * 1e9 / hz) + (k * 7919 + salt * 104729) % 1001 * 1000


class _Messages:
    """Builds serialized messages with one typestore; one generator method per topic."""

    def __init__(self, spec: KuavoBagSpec, store: Typestore) -> None:
        self.spec, self.store, self.t = spec, store, store.types

    def header(self, seq: int, t_ns: int, frame_id: str) -> Any:
        stamp = self.t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        return self.t["std_msgs/msg/Header"](seq=seq, stamp=stamp, frame_id=frame_id)

    def rel_s(self, t_ns: int) -> float:
        return (t_ns - self.spec.start_ns) / 1e9

    def ser(self, msg: object) -> bytes:
        return bytes(self.store.serialize_ros1(msg, msg.__msgtype__))  # type: ignore[attr-defined]

    def camera(self, camera: str, salt: int) -> Stream:
        spec = self.spec
        first = round(spec.late_start_s * spec.camera_hz) if camera == spec.late_camera else 0
        dropped = set(spec.dropped_frames.get(camera, ()))
        background = _background(camera, spec.height, spec.width)
        params = [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality]
        for k, t_ns in _grid(spec, spec.camera_hz, salt, first):
            if (n := k - first) in dropped:
                continue
            rgb = _draw(background, camera, n)
            if spec.noise:
                rng = np.random.default_rng((salt, n))
                grain = rng.integers(-spec.noise, spec.noise + 1, size=rgb.shape, dtype=np.int16)
                rgb = np.clip(rgb.astype(np.int16) + grain, 0, 255).astype(np.uint8)
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            ok, jpeg = cv2.imencode(".jpg", bgr, params)
            if not ok:
                raise DataprepError(f"cv2.imencode failed for {camera} frame {n}")
            yield t_ns, self.ser(self.t["sensor_msgs/msg/CompressedImage"](
                header=self.header(n, t_ns, f"{camera}_color_optical_frame"), format=JPEG_FORMAT,
                data=jpeg.reshape(-1),
            ))

    def end_effector(self, values: tuple[float, float]) -> Any:
        return self.t["kuavo_msgs/msg/endEffectorData"](
            name=list(CLAW_NAMES), position=np.array(values), velocity=np.full(2, 50.0), effort=np.ones(2),
        )

    def sensors(self, salt: int) -> Stream:
        t, vec, quat = self.t, self.t["geometry_msgs/msg/Vector3"], self.t["geometry_msgs/msg/Quaternion"]
        for k, t_ns in _grid(self.spec, self.spec.sensors_hz, salt):
            s = self.rel_s(t_ns)
            q = joint_positions(s)
            joint = t["kuavo_msgs/msg/jointData"](
                joint_q=q, joint_v=_AMPLITUDE * _OMEGA * np.cos(_OMEGA * s + _PHASE),
                joint_vd=-(_OMEGA**2) * (q - _OFFSET), joint_torque=-20.0 * (q - _OFFSET),
            )
            yaw = 0.05 * math.sin(0.2 * s)
            imu = t["kuavo_msgs/msg/imuData"](
                gyro=vec(x=0.01 * math.sin(s), y=0.01 * math.cos(s), z=0.01 * math.cos(0.2 * s)),
                acc=vec(x=0.05 * math.sin(0.5 * s), y=0.05 * math.cos(0.5 * s), z=9.81),
                free_acc=vec(x=0.05 * math.sin(0.5 * s), y=0.05 * math.cos(0.5 * s), z=0.0),
                quat=quat(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2)),
            )
            stamp = t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
            yield t_ns, self.ser(t["kuavo_msgs/msg/sensorsData"](
                header=self.header(k, t_ns, "torso"), sensor_time=stamp, joint_data=joint, imu_data=imu,
                end_effector_data=self.end_effector(claw_position(s)),
            ))

    def joint_cmd(self, salt: int) -> Stream:
        ones = np.ones(28)
        for k, t_ns in _grid(self.spec, self.spec.sensors_hz, salt):
            q = joint_positions(self.rel_s(t_ns) + 0.01)  # the command leads the state by one tick
            yield t_ns, self.ser(self.t["kuavo_msgs/msg/jointCmd"](
                header=self.header(k, t_ns, ""), joint_q=q, joint_v=np.zeros(28), tau=-20.0 * (q - _OFFSET),
                tau_max=60.0 * ones, tau_ratio=ones, joint_kp=50.0 * ones, joint_kd=3.0 * ones,
                control_modes=np.full(28, 2, dtype=np.int32),
            ))

    def arm_traj(self, salt: int) -> Stream:
        for k, t_ns in _grid(self.spec, self.spec.arm_traj_hz, salt):
            yield t_ns, self.ser(self.t["sensor_msgs/msg/JointState"](
                header=self.header(k, t_ns, ""), name=list(ARM_JOINT_NAMES),
                position=np.degrees(joint_positions(self.rel_s(t_ns))[12:26]), velocity=np.empty(0),
                effort=np.empty(0),
            ))

    def claw_state(self, salt: int) -> Stream:
        for k, t_ns in _grid(self.spec, self.spec.claw_state_hz, salt):
            s = self.rel_s(t_ns)
            pos, cmd = claw_position(s), claw_command(s)
            state = np.array([2 if p == c else 1 for p, c in zip(pos, cmd, strict=True)], dtype=np.int8)
            yield t_ns, self.ser(self.t["kuavo_msgs/msg/lejuClawState"](
                header=self.header(k, t_ns, ""), state=state, data=self.end_effector(pos),
            ))

    def claw_command(self, salt: int) -> Stream:
        for k, s in enumerate(claw_command_times(self.spec.duration_s)):
            t_ns = self.spec.start_ns + round(s * 1e9) + salt * 1000
            yield t_ns, self.ser(self.t["kuavo_msgs/msg/lejuClawCommand"](
                header=self.header(k, t_ns, ""), data=self.end_effector(claw_command(s)),
            ))




def kuavo_streams(spec: KuavoBagSpec, store: Typestore) -> list[tuple[str, str, Stream]]:
    """(topic, message type, serialized ROS1 messages in time order) per topic, for writers of Kuavo-like bags."""
    msgs = _Messages(spec, store)
    return [  # the index doubles as the stream's time-offset salt
        *((topic, "sensor_msgs/msg/CompressedImage", msgs.camera(cam, i))
          for i, (cam, topic) in enumerate(CAMERA_TOPICS.items())),
        (SENSORS_TOPIC, "kuavo_msgs/msg/sensorsData", msgs.sensors(3)),
        (JOINT_CMD_TOPIC, "kuavo_msgs/msg/jointCmd", msgs.joint_cmd(4)),
        (ARM_TRAJ_TOPIC, "sensor_msgs/msg/JointState", msgs.arm_traj(5)),
        (CLAW_STATE_TOPIC, "kuavo_msgs/msg/lejuClawState", msgs.claw_state(6)),
        (CLAW_COMMAND_TOPIC, "kuavo_msgs/msg/lejuClawCommand", msgs.claw_command(7)),
    ]


def _repeated(spec: KuavoBagSpec, store: Typestore, repeat_s: float) -> Iterator[tuple[int, int, bytes]]:
    """The first `repeat_s` seconds of messages, again and again with shifted times, up to `duration_s`."""
    block_ns = round(repeat_s * 1e9)
    first = replace(spec, duration_s=repeat_s)
    block = [m for m in merge_by_time(s for _, _, s in kuavo_streams(first, store)) if m[0] < spec.start_ns + block_ns]
    for k in range(math.ceil(spec.duration_s / repeat_s)):
        for t_ns, index, data in block:
            if (t := t_ns + k * block_ns) < spec.start_ns + round(spec.duration_s * 1e9):
                yield t, index, data


def write_kuavo_bag(path: Path, spec: KuavoBagSpec = KuavoBagSpec(), repeat_s: float | None = None) -> Path:
    """Write a Kuavo-like ROS1 bag at `path` (replacing it) via a temporary name, so no half bag remains.

    `repeat_s`: generate only that many seconds and repeat them (shifted in time) to fill `duration_s`: hours
    at the real message rates, written at disk speed, for benchmarks whose subject is the bag's length.
    """
    for camera in (spec.late_camera, *spec.dropped_frames):
        if camera is not None and camera not in CAMERA_TOPICS:
            raise DataprepError(f"KuavoBagSpec names unknown camera {camera!r}; known: {list(CAMERA_TOPICS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.unlink(missing_ok=True)
    store = kuavo_typestore()
    streams = kuavo_streams(spec, store)
    try:
        with Writer(tmp) as writer:
            conns = []
            for topic, msgtype, _ in streams:
                msgdef, md5 = store.generate_msgdef(msgtype)
                if (ros1_name := msgtype.replace("/msg/", "/")) in KUAVO_MSG_DEFINITIONS:
                    msgdef = full_text(ros1_name)  # verbatim text with comments, as `rosbag record` stores it
                conns.append(writer.add_connection(topic, msgtype, msgdef=msgdef, md5sum=md5))
            messages = merge_by_time(stream for _, _, stream in streams) if repeat_s is None \
                else _repeated(spec, store, repeat_s)
            for t_ns, index, data in messages:
                writer.write(conns[index], t_ns, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def ensure_kuavo_sample(path: Path) -> Path:
    """Write the bundled sample bag on first use; an existing file is left alone, so reruns are instant."""
    path = Path(path)
    if not path.exists():
        write_kuavo_bag(path, SAMPLE_SPEC)
    return path
