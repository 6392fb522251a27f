"""Turning aligned messages into feature vectors and camera images."""

from dataprep.features.images import (
    DEPTH_UNIT,
    IMAGE_TYPES,
    BadFrame,
    ImageDecodeError,
    decode_depth,
    decode_image,
)
from dataprep.features.mapping import FeatureMapper
from dataprep.features.transforms import apply_transforms

__all__ = [
    "DEPTH_UNIT",
    "IMAGE_TYPES",
    "BadFrame",
    "FeatureMapper",
    "ImageDecodeError",
    "apply_transforms",
    "decode_depth",
    "decode_image",
]
