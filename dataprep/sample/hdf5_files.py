"""Synthetic HDF5 sources for the index stage: offline-RL replay files and point-cloud segment files.

Written block by block (a 1M-row file never sits in memory) with deterministic content from a seed, in the
layouts the stage reads: `observations/{left,right,global}_image` HWC or CHW, `joint`, `action`, `reward`,
`terminal`, `timeout`; `data/{x,y,z,classification}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

BLOCK_BYTES = 64 << 20  # rows are generated and written this much at a time
CAMERAS = ("left_image", "right_image", "global_image")


@dataclass(frozen=True)
class ReplayFileSpec:
    rows: int = 300
    height: int = 32
    width: int = 32
    layout: Literal["HWC", "CHW"] = "HWC"
    joint_dim: int = 16
    action_dim: int = 7
    episode_length: tuple[int, int] = (20, 60)  # drawn uniformly; episodes end alternately terminal, timeout
    chunked_images: bool = True  # one sample per chunk, as robot recorders write; False: contiguous
    timeout_dataset: bool = True
    seed: int = 0


def episode_ends(spec: ReplayFileSpec) -> tuple[np.ndarray, np.ndarray]:
    """(terminal, timeout) flags of every row: episodes of random length, ending in turn in each."""
    rng = np.random.default_rng(spec.seed)
    terminal = np.zeros(spec.rows, dtype=bool)
    timeout = np.zeros(spec.rows, dtype=bool)
    row, k = -1, 0
    while True:
        row += int(rng.integers(*spec.episode_length, endpoint=True))
        if row >= spec.rows:
            break
        (terminal if k % 2 == 0 or not spec.timeout_dataset else timeout)[row] = True
        k += 1
    return terminal, timeout


def write_replay_file(path: Path, spec: ReplayFileSpec = ReplayFileSpec()) -> Path:
    rng = np.random.default_rng(spec.seed + 1)
    shape = (spec.height, spec.width, 3) if spec.layout == "HWC" else (3, spec.height, spec.width)
    base = rng.integers(0, 256, size=(2 * int(np.prod(shape)),), dtype=np.uint8)
    terminal, timeout = episode_ends(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        images = [f.create_dataset(f"observations/{cam}", shape=(spec.rows, *shape), dtype=np.uint8,
                                   chunks=(1, *shape) if spec.chunked_images else None) for cam in CAMERAS]
        joint = f.create_dataset("joint", shape=(spec.rows, spec.joint_dim), dtype=np.float32)
        action = f.create_dataset("action", shape=(spec.rows, spec.action_dim), dtype=np.float32)
        reward = f.create_dataset("reward", shape=(spec.rows,), dtype=np.float32)
        block_rows = max(1, min(4096, BLOCK_BYTES // (3 * int(np.prod(shape)))))
        for start in range(0, spec.rows, block_rows):
            stop = min(start + block_rows, spec.rows)
            n = stop - start
            for c, ds in enumerate(images):  # each row a different window of one noise buffer: cheap, distinct
                shift = (np.arange(start, stop) * 7919 + c * 104729) % (len(base) // 2)
                ds[start:stop] = np.stack([base[s:s + len(base) // 2] for s in shift]).reshape(n, *shape)
            joint[start:stop] = rng.normal(size=(n, spec.joint_dim)).astype(np.float32)
            action[start:stop] = rng.normal(0.5, 2.0, size=(n, spec.action_dim)).astype(np.float32)
            reward[start:stop] = rng.random(n).astype(np.float32)
        f["terminal"] = terminal.astype(np.float32)
        if spec.timeout_dataset:
            f["timeout"] = timeout
    return path


def write_segment_file(path: Path, points: int, seed: int = 0, segments: np.ndarray | None = None) -> Path:
    """x, y, z float32 and classification uint8 per point; `segments` (S, 2) adds data/segments (start, length)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for axis in ("x", "y", "z"):
            f[f"data/{axis}"] = rng.normal(seed, 10.0, size=points).astype(np.float32)
        f["data/classification"] = rng.integers(0, 20, size=points, dtype=np.uint8)
        if segments is not None:
            f["data/segments"] = np.asarray(segments, dtype=np.int64)
    return path
