"""Turning aligned messages into feature vectors and camera images."""

from dataprep.features.images import IMAGE_TYPES, ImageDecodeError, PayloadMismatch, decode_image
from dataprep.features.mapping import FeatureMapper
from dataprep.features.transforms import apply_transforms

__all__ = ["IMAGE_TYPES", "FeatureMapper", "ImageDecodeError", "PayloadMismatch", "apply_transforms", "decode_image"]
