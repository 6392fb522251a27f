"""What a frame must be before an episode takes it: the schema's features, finite numbers, steady image sizes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dataprep.errors import DataprepError
from dataprep.lerobot.frame import Frame
from dataprep.lerobot.schema import DatasetSchema, VectorFeature


class FrameCheck:
    """Validates frames against the schema; each camera's size and dtype are fixed by the first frame taken."""

    def __init__(self, schema: DatasetSchema) -> None:
        self.schema = schema
        self.camera_shapes: dict[str, tuple[int, int, int]] = {}  # camera key -> (h, w, channels), once fixed
        self._depth = {c.key for c in schema.cameras if c.depth_unit}

    def check(self, frame: Frame, where: str) -> Frame:
        """The frame with its vectors in their schema dtypes and its images as arrays; raises naming `where`."""
        _check_keys("vector", frame.vectors, self.schema.vector_keys, where)
        _check_keys("camera", frame.images, self.schema.camera_keys, where)
        values = {vec.key: _coerce_vector(vec, frame.vectors[vec.key], where) for vec in self.schema.vectors}
        images = {key: self._checked_image(key, frame.images[key], where) for key in self.schema.camera_keys}
        return Frame(frame.frame_index, frame.timestamp, values, images)

    def fix_shapes(self, first: Mapping[str, np.ndarray]) -> None:
        """Every later frame must match these images' sizes."""
        self.camera_shapes = {key: (image.shape[0], image.shape[1], image.shape[2]) for key, image in first.items()}

    def _checked_image(self, key: str, image: np.ndarray, where: str) -> np.ndarray:
        image = np.asarray(image)
        depth = key in self._depth
        shape = self.camera_shapes.get(key) or _check_image(key, image, where, depth)
        dtype = np.uint16 if depth else np.uint8
        if image.shape != shape or image.dtype != dtype:
            raise DataprepError(
                f"{where}: camera {key!r} changed to {image.dtype} {image.shape}; "
                f"the episode started with {np.dtype(dtype)} {shape}"
            )
        return image


def _check_keys(kind: str, given: Mapping[str, Any], expected: tuple[str, ...], where: str) -> None:
    if set(given) != set(expected):
        missing = sorted(set(expected) - set(given))
        extra = sorted(set(given) - set(expected))
        raise DataprepError(
            f"{where}: {kind} features do not match the schema (missing {missing}, unknown {extra})"
        )


def _coerce_vector(vec: VectorFeature, value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (vec.dim,):
        raise DataprepError(f"{where}: feature {vec.key!r} has shape {arr.shape}, expected ({vec.dim},)")
    if arr.dtype.kind not in "biuf":
        raise DataprepError(f"{where}: feature {vec.key!r} has non-numeric dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DataprepError(f"{where}: feature {vec.key!r} holds NaN or inf: {arr.tolist()}")
    if vec.dtype == "int64" and arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise DataprepError(f"{where}: feature {vec.key!r} is int64 but got fractional values {arr.tolist()}")
    return arr.astype(vec.dtype, copy=False)


def _check_image(key: str, image: np.ndarray, where: str, depth: bool = False) -> tuple[int, int, int]:
    dtype, channels, kind = (np.uint16, 1, "a uint16 depth map") if depth else (np.uint8, 3, "RGB uint8")
    if image.dtype != dtype or image.ndim != 3 or image.shape[2] != channels or 0 in image.shape:
        raise DataprepError(
            f"{where}: camera {key!r} must be {kind} (h, w, {channels}), got {image.dtype} {image.shape}"
        )
    h, w, _ = image.shape
    return (h, w, channels)
