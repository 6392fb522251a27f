"""Spike files: validate, decode to (T, H, W) uint8 {0, 1}, and sum into voxels, one file at a time.

Files are mapped with `np.memmap` and decoded a group of frames at a time, so a voxel never needs the whole
decoded file in memory (an 88 x 360 x 640 bitpacked file is 2.5 MB on disk, 20 MB decoded). Both encodings
of the reference notes are supported:

- `bytes`: one uint8 per pixel, 0 or 1, rows top to bottom;
- `bitpacked`: pixel k of a frame is bit (k mod 8) of byte k // 8 (LSB first), rows stored bottom to top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataprep.config.gopro import SpikeSpec
from dataprep.gopro.errors import SpikeFileError

ENCODINGS = ("bytes", "bitpacked")
VALUE_CHECK_BYTES = (
    8 * 1024 * 1024
)  # bytes-encoded files are checked for values > 1 this many bytes at a time


@dataclass(frozen=True)
class SpikeGeometry:
    """The shape and encoding every spike file of a tree shares."""

    encoding: str
    frames: int
    height: int
    width: int
    flip: bool

    @classmethod
    def from_spec(cls, spec: SpikeSpec) -> SpikeGeometry:
        flip = spec.flip if spec.flip is not None else spec.encoding == "bitpacked"
        return cls(spec.encoding, spec.frames, spec.height, spec.width, flip)

    @property
    def frame_bytes(self) -> int:
        pixels = self.height * self.width
        return pixels if self.encoding == "bytes" else pixels // 8

    @property
    def file_bytes(self) -> int:
        return self.frames * self.frame_bytes

    def describe(self) -> str:
        return f"{self.encoding} {self.frames} x {self.height} x {self.width} ({self.file_bytes} bytes)"


def size_problem(size: int, geometry: SpikeGeometry) -> str | None:
    """What is wrong with a file of `size` bytes, or None when the size fits the geometry."""
    frame = geometry.frame_bytes
    if size % frame:
        return (
            f"size {size} bytes is not a whole number of {frame}-byte frames "
            f"({geometry.encoding} {geometry.height} x {geometry.width})"
        )
    if size != geometry.file_bytes:
        expected = f"expected {geometry.frames} ({geometry.file_bytes} bytes)"
        return f"holds {size // frame} frames of {frame} bytes, {expected}"
    return None


def _map(path: Path, geometry: SpikeGeometry) -> np.memmap:
    """The file as (frames, frame_bytes) uint8 once its size is checked; SpikeFileError names the problem."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise SpikeFileError(path, f"unreadable: {err.strerror}") from err
    if (problem := size_problem(size, geometry)) is not None:
        raise SpikeFileError(path, problem)
    try:
        return np.memmap(path, dtype=np.uint8, mode="r", shape=(geometry.frames, geometry.frame_bytes))
    except (OSError, ValueError) as err:
        raise SpikeFileError(path, f"unreadable: {getattr(err, 'strerror', None) or err}") from err


def _check_values(raw: np.ndarray, path: Path, first_frame: int) -> None:
    """Bytes encoding: every value is 0 or 1; otherwise name the first offending frame and value."""
    if raw.size and raw.max() > 1:
        flat = np.flatnonzero(raw.reshape(raw.shape[0], -1) > 1)[0]
        frame, pixel = divmod(int(flat), raw[0].size)
        raise SpikeFileError(
            path,
            f"value {int(raw.reshape(-1)[flat])} at frame {first_frame + frame}, "
            f"pixel {pixel} (bytes encoding holds only 0 and 1)",
        )


def _decode(raw: np.ndarray, geometry: SpikeGeometry, path: Path, first_frame: int) -> np.ndarray:
    """(k, frame_bytes) raw bytes -> (k, H, W) uint8 {0, 1}, rows as stored (not flipped), in memory of its own."""
    k = raw.shape[0]
    if geometry.encoding == "bytes":
        _check_values(raw, path, first_frame)
        return np.array(raw, copy=True).reshape(k, geometry.height, geometry.width)  # out of the memmap
    return np.unpackbits(raw, axis=1, bitorder="little").reshape(k, geometry.height, geometry.width)


def check_spike_file(path: Path, geometry: SpikeGeometry) -> None:
    """Raise SpikeFileError if the file is unreadable, has the wrong size or (bytes) holds a value > 1.

    A bitpacked file is valid whatever its bits, so only its size and readability are checked.
    """
    mapped = _map(path, geometry)
    if geometry.encoding != "bytes":
        return
    step = max(1, VALUE_CHECK_BYTES // geometry.frame_bytes)
    for start in range(0, geometry.frames, step):
        _check_values(mapped[start : start + step], path, start)


def read_spikes(path: Path, geometry: SpikeGeometry) -> np.ndarray:
    """The whole file as (T, H, W) uint8 {0, 1}, rows top to bottom: a writable array of its own, never a view
    of the memory-mapped file (an in-place op on such a view through torch crashed the process)."""
    spikes = _decode(_map(path, geometry), geometry, path, 0)
    return np.ascontiguousarray(spikes[:, ::-1]) if geometry.flip else spikes


def spike_to_voxel(spikes: np.ndarray, bins: int, dtype: str | np.dtype = "float32") -> np.ndarray:
    """(T, H, W) -> (bins, H, W): bin b is the sum of frames [b*T/bins, (b+1)*T/bins)."""
    frames = spikes.shape[0]
    if frames % bins:
        raise ValueError(f"{frames} spike frames do not divide into {bins} equal bins")
    grouped = spikes.reshape(bins, frames // bins, *spikes.shape[1:])
    values: np.ndarray = grouped.sum(axis=1, dtype=np.uint16).astype(dtype, copy=False)
    return values


def voxelize_file(
    path: Path, geometry: SpikeGeometry, bins: int, dtype: str | np.dtype = "float32"
) -> np.ndarray:
    """`spike_to_voxel(read_spikes(path))` in one read that also validates the file.

    Bitpacked files are unpacked one bin's frames at a time; sums are accumulated in uint8 while a bin holds
    at most 255 frames (the sums of 0/1 values cannot overflow it), which halves the memory traffic.
    """
    if geometry.frames % bins:
        raise ValueError(f"{geometry.frames} spike frames do not divide into {bins} equal bins")
    mapped = _map(path, geometry)
    per_bin = geometry.frames // bins
    acc = np.uint8 if per_bin <= np.iinfo(np.uint8).max else np.uint16
    shape = (bins, geometry.height, geometry.width)
    if geometry.encoding == "bytes":
        _check_values(mapped, path, 0)
        sums = np.add.reduce(mapped.reshape(bins, per_bin, -1), axis=1, dtype=acc).reshape(shape)
    else:
        sums = np.empty((bins, shape[1] * shape[2]), dtype=acc)
        for b in range(bins):  # a bin's frames are contiguous: unpack them flat (faster than along an axis)
            bits = np.unpackbits(mapped[b * per_bin : (b + 1) * per_bin].reshape(-1), bitorder="little")
            np.add.reduce(bits.reshape(per_bin, -1), axis=0, dtype=acc, out=sums[b])
        sums = sums.reshape(shape)
    values: np.ndarray = (sums[:, ::-1] if geometry.flip else sums).astype(dtype)
    return values
