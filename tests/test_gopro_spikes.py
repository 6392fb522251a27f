"""Spike files in both encodings: decoding, validation, voxels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gopro_mini import GEOMETRIES

from dataprep.gopro import SpikeGeometry
from dataprep.gopro.errors import SpikeFileError
from dataprep.gopro.spikes import check_spike_file, read_spikes, spike_to_voxel, voxelize_file
from dataprep.sample.gopro_tree import encode_spikes, sample_spikes


def test_bitpacked_bits_are_lsb_first_and_rows_stored_bottom_up(tmp_path: Path) -> None:
    geometry = SpikeGeometry("bitpacked", 1, 2, 8, True)  # one byte per row
    path = tmp_path / "f.dat"
    path.write_bytes(bytes([0b00000101, 0b10000000]))  # stored row 0: pixels 0 and 2; stored row 1: pixel 7
    spikes = read_spikes(path, geometry)
    assert spikes.dtype == np.uint8 and spikes.shape == (1, 2, 8)
    assert spikes[0].tolist() == [[0, 0, 0, 0, 0, 0, 0, 1], [1, 0, 1, 0, 0, 0, 0, 0]]


def test_bytes_encoding_is_one_pixel_per_byte_top_row_first(tmp_path: Path) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes(bytes([1, 0, 0, 1, 1, 1, 0, 0]))
    spikes = read_spikes(path, SpikeGeometry("bytes", 2, 2, 2, False))
    assert spikes.tolist() == [[[1, 0], [0, 1]], [[1, 1], [0, 0]]]


@pytest.mark.parametrize("encoding", ["bytes", "bitpacked"])
def test_files_read_back_as_written_and_voxels_match_both_ways(tmp_path: Path, encoding: str) -> None:
    geometry = GEOMETRIES[encoding]
    spikes = sample_spikes("a/b/c", geometry)
    path = tmp_path / "f.dat"
    path.write_bytes(encode_spikes(spikes, geometry))
    assert path.stat().st_size == geometry.file_bytes
    np.testing.assert_array_equal(read_spikes(path, geometry), spikes)
    for bins, dtype in ((1, "uint8"), (2, "float32"), (geometry.frames, "float16")):
        voxel = voxelize_file(path, geometry, bins, dtype)
        assert voxel.dtype == np.dtype(dtype) and voxel.shape == (bins, geometry.height, geometry.width)
        np.testing.assert_array_equal(voxel, spike_to_voxel(spikes, bins, dtype))


def test_spike_to_voxel_sums_consecutive_frames() -> None:
    spikes = np.zeros((10, 1, 2), dtype=np.uint8)
    spikes[[0, 1, 3, 9], 0, 0] = 1
    spikes[:, 0, 1] = 1
    voxel = spike_to_voxel(spikes, 5)
    assert voxel.dtype == np.float32 and voxel[:, 0].tolist() == [[2, 2], [1, 2], [0, 2], [0, 2], [1, 2]]
    with pytest.raises(ValueError, match="10 spike frames do not divide into 3 equal bins"):
        spike_to_voxel(spikes, 3)


@pytest.mark.parametrize(
    ("encoding", "data", "problem"),
    [
        ("bytes", bytes(47), "size 47 bytes is not a whole number of 48-byte frames"),
        ("bytes", bytes(96), "holds 2 frames of 48 bytes, expected 4 (192 bytes)"),
        ("bytes", bytes(100) + b"\x03" + bytes(91), "value 3 at frame 2, pixel 4 "),
        ("bitpacked", bytes(25), "size 25 bytes is not a whole number of 4-byte frames"),
        ("bitpacked", b"", "holds 0 frames of 4 bytes, expected 6"),
    ],
    ids=["bytes-truncated", "bytes-short", "bytes-value-3", "bitpacked-truncated", "bitpacked-empty"],
)
def test_invalid_files_are_named_with_their_problem(
    tmp_path: Path, encoding: str, data: bytes, problem: str
) -> None:
    path = tmp_path / "bad.dat"
    path.write_bytes(data)
    for check in (
        lambda: check_spike_file(path, GEOMETRIES[encoding]),
        lambda: read_spikes(path, GEOMETRIES[encoding]),
        lambda: voxelize_file(path, GEOMETRIES[encoding], 2),
    ):
        with pytest.raises(SpikeFileError, match=f"^{re.escape(f'{path}: {problem}')}"):
            check()


def test_unreadable_file_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "dangling.dat").symlink_to(tmp_path / "absent.dat")
    with pytest.raises(SpikeFileError, match="unreadable: No such file or directory"):
        check_spike_file(tmp_path / "dangling.dat", GEOMETRIES["bytes"])


def test_voxel_writer_writes_atomically_and_raises_the_first_failed_write(tmp_path: Path) -> None:
    from dataprep.gopro.voxels import VoxelWriter

    voxel = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    (tmp_path / "blocked").write_bytes(b"a file where a folder should be")
    with pytest.raises(FileExistsError, match="blocked"), VoxelWriter(pending=1) as writer:
        for i in range(3):
            writer.submit(tmp_path / "ok" / f"{i}.npy", voxel)
        writer.submit(tmp_path / "blocked" / "x.npy", voxel)
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["0.npy", "1.npy", "2.npy"]
    np.testing.assert_array_equal(np.load(tmp_path / "ok/2.npy"), voxel)
