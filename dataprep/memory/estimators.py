"""Bytes a data set needs in memory, from its shape alone: pure formulas, no disk, no machine figures.

The readers of real sources (an HDF5 index, a GoPro tree, a bag's first images) live in `sources`; the bag
conversion's working set, which also depends on measured coefficients, in `conversion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataprep.errors import DataprepError


def itemsize(dtype: str | np.dtype) -> int:
    """Bytes per element of a numpy dtype name such as "uint8" or "float32"."""
    try:
        return np.dtype(dtype).itemsize
    except TypeError as err:
        raise DataprepError(f"unknown dtype {dtype!r}") from err


def _count(name: str, value: int) -> int:
    if value < 0:
        raise DataprepError(f"{name} must be >= 0, got {value}")
    return value


def image_set_bytes(count: int, height: int, width: int, channels: int = 3, dtype: str = "uint8") -> int:
    """count x H x W x C x dtype: a set of decoded images held as arrays."""
    return _count("count", count) * _count("height", height) * _count("width", width) * channels * itemsize(dtype)


def text_bytes(samples: int, max_length: int, dtype: str = "int64") -> int:
    """samples x 2 x max_length x dtype: token ids and an attention mask per sample, padded to max_length."""
    return _count("samples", samples) * 2 * _count("max_length", max_length) * itemsize(dtype)


def vqa_bytes(samples: int, max_length: int, height: int, width: int, channels: int = 3, *,
              lazy_images: bool = False, text_dtype: str = "int64", image_dtype: str = "uint8") -> int:
    """Question/answer text per sample, plus one image each unless images are loaded lazily (then only text)."""
    text = text_bytes(samples, max_length, text_dtype)
    return text if lazy_images else text + image_set_bytes(samples, height, width, channels, image_dtype)


@dataclass(frozen=True)
class CameraShape:
    """One camera's decoded frame: (height, width, channels) and the element type."""

    height: int
    width: int
    channels: int = 3
    dtype: str = "uint8"

    @property
    def nbytes(self) -> int:
        return self.height * self.width * self.channels * itemsize(self.dtype)


def episode_bytes(frames: int, cameras: Sequence[CameraShape], vector_widths: Sequence[int] = (),
                  vector_dtype: str = "float32") -> int:
    """A robot episode decoded whole: per frame every camera's image and every vector feature."""
    per_frame = sum(c.nbytes for c in cameras) + sum(vector_widths) * itemsize(vector_dtype)
    return _count("frames", frames) * per_frame


def segments_bytes(points: int, column_dtypes: Sequence[str]) -> int:
    """Point-cloud columns (x, y, z, classification ...) of `points` points."""
    return _count("points", points) * sum(itemsize(d) for d in column_dtypes)


def gopro_sample_bytes(height: int, width: int, spike_planes: int, spike_height: int, spike_width: int,
                       spike_dtype: str = "float32") -> int:
    """One GoPro + spike sample as the loader returns it: blur and sharp RGB uint8, and spike planes
    (voxel bins, or the raw frames as uint8)."""
    return 2 * image_set_bytes(1, height, width) + image_set_bytes(1, spike_height, spike_width, spike_planes,
                                                                  spike_dtype)


def replay_batch_bytes(batch_size: int, image_size: int, cameras: int = 3) -> int:
    """One replay batch's images: each camera now and next, (B, S, S, 3) uint8 each."""
    return 2 * cameras * image_set_bytes(batch_size, image_size, image_size)


def replay_sampler_bytes(index_bytes: int, batch_size: int, image_size: int, prefetch: int) -> int:
    """A ReplaySampler: its index columns and the batches alive at once under a training loop: the read-ahead
    queue, the batch being read and the caller's batch (measured: bench/memory_bench.py)."""
    return index_bytes + (prefetch + 2) * replay_batch_bytes(batch_size, image_size)
