"""Small GoPro + spike trees in both spike encodings, for tests, benchmarks and the bundled sample.

Every image and spike file is a deterministic function of (split, sequence, frame), so a test can rebuild
what a file must hold without keeping it. Spike files are written by `encode_spikes`, the inverse of
`dataprep.gopro.spikes.read_spikes` (bitpacked: LSB first, rows stored bottom to top).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dataprep.gopro.spikes import SpikeGeometry

GOPRO_FOLDERS = ("blur", "blur_gamma", "sharp")


DEFAULT_GEOMETRY = SpikeGeometry("bytes", 4, 6, 8, False)  # tiny: 4 frames of 6 x 8


@dataclass(frozen=True)
class GoproTreeSpec:
    """Which sequences and frames to write (`{"train/GOPR0372_07_00": ["000047", ...]}`) and their shapes."""

    sequences: Mapping[str, Sequence[str]]
    geometry: SpikeGeometry = DEFAULT_GEOMETRY
    image_size: tuple[int, int] = (8, 12)  # (height, width)
    folders: tuple[str, ...] = GOPRO_FOLDERS
    spike_folder: str = "spike"
    spike_only: Mapping[str, Sequence[str]] = field(default_factory=dict)  # sequences only in the spike root
    gopro_only: Mapping[str, Sequence[str]] = field(default_factory=dict)  # sequences only in the GoPro root


def _rng(*key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(key).encode()))


def sample_spikes(key: str, geometry: SpikeGeometry) -> np.ndarray:
    """The (T, H, W) uint8 {0, 1} spikes of `key` ("split/sequence/frame"), top row first."""
    return (_rng("spike", key).random((geometry.frames, geometry.height, geometry.width)) < 0.3).astype(
        np.uint8
    )


def sample_image(key: str, folder: str, size: tuple[int, int]) -> np.ndarray:
    """The (H, W, 3) uint8 RGB image of `key` in `folder`."""
    return _rng(folder, key).integers(0, 256, (*size, 3), dtype=np.uint8)


def encode_spikes(spikes: np.ndarray, geometry: SpikeGeometry) -> bytes:
    """(T, H, W) {0, 1} -> the file's bytes in the geometry's encoding (the inverse of read_spikes)."""
    stored = spikes[:, ::-1] if geometry.flip else spikes
    if geometry.encoding == "bytes":
        return np.ascontiguousarray(stored, dtype=np.uint8).tobytes()
    flat = np.ascontiguousarray(stored, dtype=np.uint8).reshape(spikes.shape[0], -1)
    return np.packbits(flat, axis=1, bitorder="little").tobytes()


def write_spike_file(path: Path, key: str, geometry: SpikeGeometry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_spikes(sample_spikes(key, geometry), geometry))


def write_image(path: Path, key: str, folder: str, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sample_image(key, folder, size), cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def write_gopro_tree(gopro_root: Path, spike_root: Path, spec: GoproTreeSpec) -> None:
    """Write `<gopro_root>/<split>/<seq>/<folder>/<frame>.png`, `<spike_root>/<split>/<seq>/spike/*.dat`."""
    for name, frames in spec.sequences.items():
        _write_gopro(gopro_root, name, frames, spec)
        _write_spike(spike_root, name, frames, spec)
    for name, frames in spec.gopro_only.items():
        _write_gopro(gopro_root, name, frames, spec)
    for name, frames in spec.spike_only.items():
        _write_spike(spike_root, name, frames, spec)


def _write_gopro(root: Path, name: str, frames: Sequence[str], spec: GoproTreeSpec) -> None:
    for folder in spec.folders:
        for frame in frames:
            write_image(root / name / folder / f"{frame}.png", f"{name}/{frame}", folder, spec.image_size)


def _write_spike(root: Path, name: str, frames: Sequence[str], spec: GoproTreeSpec) -> None:
    for frame in frames:
        write_spike_file(root / name / spec.spike_folder / f"{frame}.dat", f"{name}/{frame}", spec.geometry)


SAMPLE_SEQUENCES = {
    "train/GOPR0372_07_00": [f"{i:06d}" for i in range(47, 55)],
    "train/GOPR0374_11_00": [f"{i:06d}" for i in range(1, 7)],
    "test/GOPR0384_11_00": [f"{i:06d}" for i in range(1, 7)],
}
SAMPLE_IMAGE_SIZE = (90, 160)


def ensure_gopro_sample(gopro_root: Path, spike_root: Path, geometry: SpikeGeometry) -> bool:
    """Write the bundled sample (3 sequences, 20 frames, in `geometry`) when neither root exists yet.

    Returns whether it wrote; existing roots are left alone, so reruns are instant.
    """
    if gopro_root.exists() or spike_root.exists():
        return False
    write_gopro_tree(gopro_root, spike_root, GoproTreeSpec(SAMPLE_SEQUENCES, geometry, SAMPLE_IMAGE_SIZE))
    return True
