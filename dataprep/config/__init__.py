"""Configuration: pydantic models of the YAML files and the loader that validates them."""

from dataprep.config.gopro import GoproPrepareConfig, LayoutSpec, SpikeSpec, VoxelSpec
from dataprep.config.hdf5 import Hdf5IndexConfig, Hdf5SourceSpec, ImageCacheSpec
from dataprep.config.loader import LoaderSpec
from dataprep.config.loading import ConfigError, deep_merge, load_config, parse_overrides, read_yaml
from dataprep.config.models import (
    AlignSpec,
    CameraSpec,
    ConvertConfig,
    FeatureSpec,
    InputSpec,
    PartSpec,
    PipelineConfig,
    TimelineSpec,
    Transform,
    VideoSpec,
)

__all__ = [
    "AlignSpec",
    "CameraSpec",
    "ConfigError",
    "ConvertConfig",
    "FeatureSpec",
    "GoproPrepareConfig",
    "Hdf5IndexConfig",
    "Hdf5SourceSpec",
    "ImageCacheSpec",
    "InputSpec",
    "LayoutSpec",
    "LoaderSpec",
    "PartSpec",
    "PipelineConfig",
    "SpikeSpec",
    "TimelineSpec",
    "Transform",
    "VideoSpec",
    "VoxelSpec",
    "deep_merge",
    "load_config",
    "parse_overrides",
    "read_yaml",
]
