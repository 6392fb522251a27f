"""Decoding camera messages (sensor_msgs/CompressedImage and sensor_msgs/Image) into RGB arrays."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dataprep.errors import DataprepError

COMPRESSED_TYPES = frozenset({"sensor_msgs/msg/CompressedImage"})
RAW_TYPES = frozenset({"sensor_msgs/msg/Image"})
IMAGE_TYPES = COMPRESSED_TYPES | RAW_TYPES

# encoding -> (channels, conversion to RGB or None when already RGB)
_RAW_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "8UC1": (1, cv2.COLOR_GRAY2RGB),
    "8UC3": (3, cv2.COLOR_BGR2RGB),
}


class ImageDecodeError(DataprepError):
    """A camera message cannot be turned into an RGB image."""


class PayloadMismatch(ImageDecodeError):
    """One frame's payload does not match its declared size: that frame is dropped and counted, not the bag."""

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.reason = f"{topic}: image payload does not match its declared size"


def _decode_compressed(msg: Any, where: str) -> np.ndarray:
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if "compressedDepth" in getattr(msg, "format", ""):
        raise ImageDecodeError(f"{where}: compressedDepth images are not supported as RGB cameras")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(f"{where}: cannot decode {len(data)} bytes of format {msg.format!r}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_raw(msg: Any, where: str, topic: str) -> np.ndarray:
    if msg.encoding not in _RAW_ENCODINGS:
        raise ImageDecodeError(f"{where}: unsupported encoding {msg.encoding!r}; supported: "
                               f"{', '.join(_RAW_ENCODINGS)}")
    channels, conversion = _RAW_ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if height == 0 or width == 0 or step < width * channels or data.size != height * step:
        raise PayloadMismatch(f"{where}: claims {width}x{height} {msg.encoding} (step {step}) "
                              f"but carries {data.size} bytes", topic)
    rows = data[: height * step].reshape(height, step)[:, : width * channels]
    image = rows.reshape(height, width, channels)
    if conversion is None:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(np.ascontiguousarray(image), conversion)


def decode_image(msg: Any, msgtype: str, where: str, resize: tuple[int, int] | None = None,
                 topic: str = "") -> np.ndarray:
    """RGB uint8 (height, width, 3); `where` names the bag and topic in errors; resize is (height, width).

    A raw frame whose payload is not exactly `height * step` bytes raises `PayloadMismatch`: its pixels
    cannot be trusted, so the caller drops that frame and counts it.
    """
    if msgtype in COMPRESSED_TYPES:
        image = _decode_compressed(msg, where)
    elif msgtype in RAW_TYPES:
        image = _decode_raw(msg, where, topic)
    else:
        raise ImageDecodeError(f"{where}: type {msgtype} is not an image (expected one of {sorted(IMAGE_TYPES)})")
    if resize is not None and image.shape[:2] != tuple(resize):
        image = cv2.resize(image, (resize[1], resize[0]), interpolation=cv2.INTER_AREA)
    return image
