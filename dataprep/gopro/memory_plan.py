"""The memory plan of the GoPro + spike loader: a split's samples, and the cache each DataLoader worker keeps.

Figures come from the prepared tree (else the raw GoPro tree): its frame count and the size of its first image;
the rules and formulas are `dataprep.memory`'s (pure), the reading is this stage's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from dataprep.config import GoproPrepareConfig
from dataprep.errors import DataprepError
from dataprep.memory.estimators import gopro_sample_bytes
from dataprep.memory.monitor import SystemMemory
from dataprep.memory.stage_plan import StagePlan
from dataprep.memory.strategy import gopro_loader_settings


@dataclass(frozen=True)
class GoproFigures:
    frames: int
    height: int
    width: int
    source: str


def read_gopro_figures(config: GoproPrepareConfig) -> GoproFigures:
    """Frames of the prepared tree (else the raw GoPro tree) and the size of its first image."""
    root = config.output_root if config.output_root.is_dir() else config.gopro_root
    folder = config.sources[-1]
    frames, first = 0, None
    splits = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for split in splits:
        if config.splits and split.name not in config.splits:
            continue
        for seq in sorted(p for p in split.iterdir() if p.is_dir()):
            images = sorted((seq / folder).glob("*")) if (seq / folder).is_dir() else []
            frames += len(images)
            first = first or (images[0] if images else None)
    if first is None:
        raise DataprepError(f"memory plan: no {folder}/ image under {root}")
    image = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataprepError(f"memory plan: cannot read {first}")
    return GoproFigures(frames, image.shape[0], image.shape[1], f"{frames} frames under {root}")


def plan_gopro(config: GoproPrepareConfig, system: SystemMemory, loader_workers: int) -> StagePlan:
    """The loader's need for the whole tree and the cache it should keep per worker."""
    figures = read_gopro_figures(config)
    spike = config.spike
    planes, dtype = (config.voxels.bins, config.voxels.dtype) if config.voxels else (spike.frames, "uint8")
    total = figures.frames * gopro_sample_bytes(figures.height, figures.width, planes, spike.height, spike.width,
                                                dtype)
    settings = gopro_loader_settings(total, system.available, loader_workers)
    return StagePlan("gopro_prepare", total, system.available, settings.strategy.kind, None, loader_workers,
                     f"GoproSpikeDataset.from_config(..., cache_bytes={settings.cache_bytes}) per worker; "
                     f"{settings.strategy.reasoning}; {figures.source}")
