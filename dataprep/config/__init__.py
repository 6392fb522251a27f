"""Configuration: pydantic models of the YAML files and the loader that validates them."""

from dataprep.config.gopro import GoproPrepareConfig
from dataprep.config.hdf5 import Hdf5IndexConfig
from dataprep.config.loader import LoaderSpec
from dataprep.config.loading import ConfigError, deep_merge, load_config, parse_overrides, read_yaml
from dataprep.config.models import ConvertConfig, PipelineConfig

__all__ = [
    "ConfigError",
    "ConvertConfig",
    "GoproPrepareConfig",
    "Hdf5IndexConfig",
    "LoaderSpec",
    "PipelineConfig",
    "deep_merge",
    "load_config",
    "parse_overrides",
    "read_yaml",
]
