"""GoPro + spike frames as tensors: items `default_collate` stacks and `pin_memory` pins as they are."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from dataprep.gopro.dataset import GoproSpikeDataset


class GoproTorchDataset(Dataset[dict[str, Any]]):
    """`[i]` is a dict: `blur` and `sharp` (H, W, 3) uint8, `spike` (bins, H, W) voxels or (T, H, W) uint8
    spikes, as tensors of the sample's own memory (the reader never hands out a mapped file or its cache),
    and the `sequence` and `frame` names."""

    def __init__(self, frames: GoproSpikeDataset) -> None:
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.frames[i]
        return {"blur": torch.from_numpy(sample.blur), "sharp": torch.from_numpy(sample.sharp),
                "spike": torch.from_numpy(sample.spike), "sequence": sample.sequence, "frame": sample.frame}
