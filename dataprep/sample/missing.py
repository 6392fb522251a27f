"""The bundled samples a configuration asks for (`generate_sample_if_missing`), written once before any stage.

The one place that writes them, so no stage's planner writes input data: `flows.cli` runs this for a stage run
from the command line and `flows.launch.run_stages` for every stage of a pipeline (scheduled runs included); a
script calling a stage's library function directly calls it first. Existing paths are never touched, so a
rerun writes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dataprep.config import ConvertConfig, GoproPrepareConfig, Hdf5IndexConfig, PipelineConfig
from dataprep.errors import DataprepError
from dataprep.gopro.spikes import SpikeGeometry
from dataprep.sample.gopro_tree import ensure_gopro_sample
from dataprep.sample.hdf5_files import write_replay_file, write_segment_file
from dataprep.sample.kuavo_bag import ensure_kuavo_sample

logger = logging.getLogger(__name__)

Section = ConvertConfig | GoproPrepareConfig | Hdf5IndexConfig


def write_missing_samples(config: Section | PipelineConfig) -> tuple[Path, ...]:
    """Write the bundled sample at each configured path that asks for one and does not exist; the paths
    written (none when the section does not ask, or everything is there already)."""
    if isinstance(config, PipelineConfig):
        sections = (config.rosbag_to_lerobot, config.gopro_prepare, config.hdf5_index)
        return tuple(path for section in sections if section is not None for path in write_missing_samples(section))
    if isinstance(config, ConvertConfig):
        return _bag_sample(config)
    if isinstance(config, GoproPrepareConfig):
        return _gopro_sample(config)
    return _hdf5_samples(config)


def _bag_sample(config: ConvertConfig) -> tuple[Path, ...]:
    if not config.input.generate_sample_if_missing:
        return ()
    if len(config.input.bags) != 1:
        raise DataprepError("input.generate_sample_if_missing needs exactly one bag path in input.bags")
    sample = Path(config.input.bags[0])
    if sample.exists():
        return ()
    logger.info("writing the bundled sample recording to %s", sample)
    return (ensure_kuavo_sample(sample),)


def _gopro_sample(config: GoproPrepareConfig) -> tuple[Path, ...]:
    if not config.generate_sample_if_missing:
        return ()
    if not ensure_gopro_sample(config.gopro_root, config.spike_root, SpikeGeometry.from_spec(config.spike)):
        return ()
    logger.info("wrote the bundled GoPro + spike sample at %s and %s", config.gopro_root, config.spike_root)
    return config.gopro_root, config.spike_root


def _hdf5_samples(config: Hdf5IndexConfig) -> tuple[Path, ...]:
    """A replay file (300 rows, 32x32 cameras) or a point-cloud file per missing .h5 path."""
    if not config.generate_sample_if_missing:
        return ()
    written = []
    for source in config.sources:
        for name in source.paths:
            path = Path(name)
            if path.suffix != ".h5" or path.exists() or any(c in name for c in "*?["):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if source.kind == "replay":
                write_replay_file(path)
            else:  # 8 segments, cut by size or by a data/segments table of (start, length)
                size = source.segment_size or 4096
                table = None if source.segment_size else np.array([(i * size, size) for i in range(8)])
                write_segment_file(path, points=8 * size, segments=table)
            logger.info("wrote the bundled %s sample at %s", source.kind, path)
            written.append(path)
    return tuple(written)
