"""Feature schema of a LeRobot dataset, and its three renderings: info.json, HF `datasets.Features`, arrow.

The schema is declared once by the caller (which vectors, which cameras, how cameras are stored); the
camera image size is only known from the data, so the info.json rendering takes it from the episodes.
Mirrors lerobot 0.6.1's `get_hf_features_from_features`: a vector is a fixed-length list, a feature of
shape [1] a plain scalar, an image feature `datasets.Image()`, and video features have no column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from dataprep.errors import DataprepError
from dataprep.feature_names import RESERVED_FEATURES
from dataprep.lerobot.info import FeatureInfo
from dataprep.lerobot.layout import (
    CAMERA_AXIS_NAMES,
    DATASET_GLOBAL_FEATURES,
    DEFAULT_FEATURES,
    EPISODE_LOCAL_FEATURES,
)
from dataprep.lerobot.video import VideoInfo, VideoSettings

if TYPE_CHECKING:
    import datasets

VectorDtype = Literal["float32", "float64", "int64"]
CameraStorage = Literal["video", "image"]
_VECTOR_DTYPES = ("float32", "float64", "int64")
_CAMERA_STORAGES = ("video", "image")


def _check_key(key: str, what: str) -> None:
    if not isinstance(key, str) or not key:
        raise DataprepError(f"{what} key must be a non-empty string, got {key!r}")
    if "/" in key:
        raise DataprepError(
            f"{what} key {key!r} contains '/', which lerobot forbids in feature names "
            f"(map topic names to dotted names, e.g. {key.strip('/').replace('/', '_')!r})"
        )
    if key in RESERVED_FEATURES:
        raise DataprepError(f"{what} key {key!r} is reserved for lerobot's default feature of that name")


@dataclass(frozen=True)
class VectorFeature:
    """A numeric vector per frame (state, action, ...), stored as one parquet column."""

    key: str  # e.g. "observation.state"; must not contain "/"
    dim: int
    dtype: VectorDtype = "float32"
    names: tuple[str, ...] | None = None  # one per element, recorded in info.json

    def __post_init__(self) -> None:
        _check_key(self.key, "vector feature")
        if not isinstance(self.dim, int) or self.dim < 1:
            raise DataprepError(f"vector feature {self.key!r}: dim must be a positive int, got {self.dim!r}")
        if self.dtype not in _VECTOR_DTYPES:
            raise DataprepError(f"vector feature {self.key!r}: dtype must be one of {_VECTOR_DTYPES}")
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))
            if len(self.names) != self.dim:
                raise DataprepError(
                    f"vector feature {self.key!r}: {len(self.names)} names for dim {self.dim}"
                )

    @property
    def shape(self) -> tuple[int]:
        return (self.dim,)


@dataclass(frozen=True)
class CameraFeature:
    """An RGB camera, or a depth camera (uint16 in `depth_unit`); its size comes from the first frame."""

    key: str  # "observation.images.<name>"
    depth_unit: str | None = None  # e.g. "mm": a depth map, stored losslessly as 16-bit PNG (image mode)

    def __post_init__(self) -> None:
        _check_key(self.key, "camera feature")


@dataclass(frozen=True)
class DatasetSchema:
    """Everything about a dataset's features that is fixed before any data is seen."""

    fps: int
    robot_type: str
    vectors: tuple[VectorFeature, ...]
    cameras: tuple[CameraFeature, ...]
    camera_storage: CameraStorage = "video"  # "image": PNG bytes in parquet, dtype "image"
    video: VideoSettings = field(default_factory=VideoSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vectors", tuple(self.vectors))
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if not isinstance(self.fps, int) or self.fps <= 0:
            raise DataprepError(f"dataset fps must be a positive int, got {self.fps!r}")
        if self.camera_storage not in _CAMERA_STORAGES:
            raise DataprepError(
                f"camera_storage must be one of {_CAMERA_STORAGES}, got {self.camera_storage!r}"
            )
        keys = [v.key for v in self.vectors] + [c.key for c in self.cameras]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise DataprepError(f"feature keys declared more than once: {duplicates}")
        if not keys:
            raise DataprepError("a dataset needs at least one vector or camera feature")
        depth = [c.key for c in self.cameras if c.depth_unit]
        if depth and self.camera_storage != "image":
            raise DataprepError(f"depth cameras {depth} are stored losslessly as 16-bit PNG: set camera_storage: image")

    @property
    def vector_keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.vectors)

    @property
    def camera_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.cameras)

    @property
    def uses_video(self) -> bool:
        """True when cameras are mp4 files (and info.json's `video_path` is set)."""
        return self.camera_storage == "video" and bool(self.cameras)

    @property
    def camera_dtype(self) -> str:
        return self.camera_storage  # lerobot's feature dtype is literally "video" or "image"


def info_features(
    schema: DatasetSchema,
    camera_shapes: Mapping[str, tuple[int, int, int]],
    videos: Mapping[str, VideoInfo],
) -> dict[str, FeatureInfo]:
    """The `features` of info.json, typed: user features in declaration order, then the five defaults.

    The same records `DatasetInfo.read` gives, so an append compares them with the committed dataset's as
    they are; JSON is made only where info.json is written.
    """
    features: dict[str, FeatureInfo] = {}
    for vec in schema.vectors:
        features[vec.key] = FeatureInfo(dtype=vec.dtype, shape=(vec.dim,), names=vec.names)
    for cam in schema.cameras:
        if cam.key not in camera_shapes:
            raise DataprepError(f"camera feature {cam.key!r}: no image size known (no frame was written)")
        info: dict[str, Any] | None = None
        if cam.depth_unit:
            info = {"is_depth_map": True, "depth_unit": cam.depth_unit}
        if schema.camera_storage == "video":
            if cam.key not in videos:
                raise DataprepError(f"camera feature {cam.key!r}: no video was written")
            info = videos[cam.key].to_info_dict()
        features[cam.key] = FeatureInfo(dtype=schema.camera_dtype, shape=tuple(camera_shapes[cam.key]),
                                        names=CAMERA_AXIS_NAMES, info=info)
    for key, dtype in DEFAULT_FEATURES.items():
        features[key] = FeatureInfo(dtype=dtype, shape=(1,), names=None)
    return features


def _vector_hf_feature(vec: VectorFeature) -> datasets.Value | datasets.List:
    import datasets

    if vec.dim == 1:
        return datasets.Value(vec.dtype)  # lerobot stores shape [1] as a plain scalar column
    return datasets.List(datasets.Value(vec.dtype), length=vec.dim)


def dataset_hf_features(schema: DatasetSchema) -> datasets.Features:
    """Columns of the final data parquet, in lerobot's order; what `datasets` reads back.

    `datasets` is imported here, not at module level: it costs ~50 MB of RSS, and only the final assembly
    needs it, not the conversion that runs three video encoders at once.
    """
    import datasets

    columns: dict[str, Any] = {vec.key: _vector_hf_feature(vec) for vec in schema.vectors}
    if schema.camera_storage == "image":
        columns.update({cam.key: datasets.Image() for cam in schema.cameras})
    index_keys = EPISODE_LOCAL_FEATURES + DATASET_GLOBAL_FEATURES
    columns.update({key: datasets.Value(DEFAULT_FEATURES[key]) for key in index_keys})
    return datasets.Features(columns)


def _vector_hf_dict(vec: VectorFeature) -> dict[str, Any]:
    value = {"dtype": vec.dtype, "_type": "Value"}
    return value if vec.dim == 1 else {"feature": value, "length": vec.dim, "_type": "List"}


def dataset_arrow_schema(schema: DatasetSchema) -> pa.Schema:
    """The final data parquet's arrow schema, carrying the `huggingface` metadata `datasets` restores types from.

    Equal, metadata bytes included, to `dataset_hf_features(schema).arrow_schema` (a test holds the two
    together), but built with pyarrow and json alone: importing `datasets` (and with it pandas) at the end
    of a conversion cost ~40 MB of RSS on top of the encoders' heap, and set the run's peak.
    """
    fields = list(staged_arrow_schema(schema))
    features: dict[str, Any] = {vec.key: _vector_hf_dict(vec) for vec in schema.vectors}
    if schema.camera_storage == "image":
        features.update({cam.key: {"_type": "Image"} for cam in schema.cameras})
    for key in EPISODE_LOCAL_FEATURES + DATASET_GLOBAL_FEATURES:
        features[key] = {"dtype": DEFAULT_FEATURES[key], "_type": "Value"}
    fields += [pa.field(key, _PA_TYPES[DEFAULT_FEATURES[key]]) for key in DATASET_GLOBAL_FEATURES]
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    return pa.schema(fields).with_metadata(metadata)


def with_fingerprint(arrow_schema: pa.Schema, seed: str) -> pa.Schema:
    """The schema with a `fingerprint` in its `huggingface` metadata, as a file `datasets` wrote carries.

    `datasets` stores a 16-hex-digit hash of how the table was made; ours hashes `seed` (which episode), so
    a rerun writes the same bytes.
    """
    metadata = dict(arrow_schema.metadata or {})
    hf = json.loads(metadata.get(b"huggingface", b"{}"))
    hf["fingerprint"] = hashlib.sha256(seed.encode()).hexdigest()[:16]
    metadata[b"huggingface"] = json.dumps(hf).encode()
    return arrow_schema.with_metadata(metadata)


_PA_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64()}
_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # what datasets.Image() stores


def staged_arrow_schema(schema: DatasetSchema) -> pa.Schema:
    """Columns of a staged episode: user features (+ images in image mode), timestamp, frame_index.

    Built with pyarrow alone so a conversion never imports `datasets`; finalize checks every staged file
    against `dataset_arrow_schema`, so the two cannot drift apart unnoticed.
    """
    fields = [
        pa.field(vec.key, _PA_TYPES[vec.dtype] if vec.dim == 1 else pa.list_(_PA_TYPES[vec.dtype], vec.dim))
        for vec in schema.vectors
    ]
    if schema.camera_storage == "image":
        fields += [pa.field(cam.key, _IMAGE_TYPE) for cam in schema.cameras]
    fields += [pa.field(key, _PA_TYPES[DEFAULT_FEATURES[key]]) for key in EPISODE_LOCAL_FEATURES]
    return pa.schema(fields)
