"""Turning aligned messages into feature vectors and camera images."""

from dataprep.features.images import (
    DEPTH_UNIT,
    IMAGE_TYPES,
    BadFrameError,
    ImageDecodeError,
    decode_depth,
    decode_image,
)
from dataprep.features.mapping import FeatureMapper
from dataprep.features.transforms import apply_transforms

__all__ = [
    "DEPTH_UNIT",
    "IMAGE_TYPES",
    "BadFrameError",
    "FeatureMapper",
    "ImageDecodeError",
    "apply_transforms",
    "decode_depth",
    "decode_image",
]
