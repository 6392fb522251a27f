"""Small generated HDF5 sources shared by the HDF5 tests, and direct (index-free) reads to check against."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from dataprep.config import Hdf5IndexConfig
from dataprep.sample import ReplayFileSpec, write_replay_file, write_segment_file


def write_sources(root: Path) -> dict[str, Path]:
    """Two replay files (HWC chunked, CHW contiguous) and three segment files of different sizes."""
    return {
        "a": write_replay_file(root / "replay/a.h5", ReplayFileSpec(rows=300, seed=1)),
        "b": write_replay_file(root / "replay/b.hdf5", ReplayFileSpec(rows=200, seed=2, layout="CHW",
                                                                      chunked_images=False)),
        "s1": write_segment_file(root / "points/s1.h5", 1000, seed=1),
        "s2": write_segment_file(root / "points/s2.h5", 700, seed=2),
        "s3": write_segment_file(root / "points/s3.h5", 512, seed=3),
    }


def index_config(root: Path, out: Path, cache: int | None = 24, **segments: object) -> Hdf5IndexConfig:
    return Hdf5IndexConfig.model_validate({
        "sources": [{"kind": "replay", "paths": [str(root / "replay")]},
                    {"kind": "segments", "paths": [str(root / "points/*.h5")], "segment_size": 128, **segments}],
        "output_root": str(out), "image_cache": {"size": cache} if cache else None,
    })  # fmt: skip


def read_column(paths: list[Path], name: str) -> np.ndarray:
    """A dataset of every file, concatenated, read whole with h5py (the oracle)."""
    parts = []
    for path in paths:
        with h5py.File(path, "r") as f:
            parts.append(f[name][()])
    return np.concatenate(parts)


def read_image(path: str, camera: str, row: int) -> np.ndarray:
    """One stored image as HWC."""
    with h5py.File(path, "r") as f:
        image = f[f"observations/{camera}"][row]
    return image.transpose(1, 2, 0) if image.shape[0] == 3 else image
