"""Mini GoPro + spike trees with every case the stage must handle, for the gopro tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dataprep.config import GoproPrepareConfig
from dataprep.gopro import SpikeGeometry
from dataprep.gopro.spikes import spike_to_voxel
from dataprep.sample import GoproTreeSpec, write_gopro_tree
from dataprep.sample.gopro_tree import sample_spikes

GEOMETRIES = {
    "bytes": SpikeGeometry("bytes", 4, 6, 8, False),  # 48-byte frames
    "bitpacked": SpikeGeometry("bitpacked", 6, 4, 8, True),  # 4-byte frames
}
BINS = 2
TRAIN = "train/GOPR0372_07_00"  # frames do not start at 0: 000047 ... 000051
TEST = "test/GOPR0384_11_00"  # unpadded names: 7, 8, 10 (numeric order)
GOPRO_ONLY = "train/GOPR0374_11_00"
SPIKE_ONLY = "test/GOPR0385_11_01"


class MiniTree(NamedTuple):
    gopro: Path
    spike: Path
    out: Path
    geometry: SpikeGeometry
    config: GoproPrepareConfig


def spike_section(geometry: SpikeGeometry) -> dict[str, object]:
    return {
        "encoding": geometry.encoding,
        "frames": geometry.frames,
        "height": geometry.height,
        "width": geometry.width,
    }


def build(tmp_path: Path, encoding: str, **overrides: object) -> MiniTree:
    """train: 000049 has no sharp frame, 000050's .dat is truncated, 000051's is invalid (bytes: a value 2;
    bitpacked: one frame too many); a sequence only in each root."""
    geometry = GEOMETRIES[encoding]
    gopro, spike = tmp_path / "raw/gopro", tmp_path / "raw/spike"
    spec = GoproTreeSpec(
        {TRAIN: ["000047", "000048", "000049", "000050", "000051"], TEST: ["7", "8", "10"]},
        geometry=geometry,
        gopro_only={GOPRO_ONLY: ["000001"]},
        spike_only={SPIKE_ONLY: ["000002"]},
    )
    write_gopro_tree(gopro, spike, spec)
    (gopro / TRAIN / "sharp/000049.png").unlink()
    truncated = spike / TRAIN / "spike/000050.dat"
    truncated.write_bytes(truncated.read_bytes()[:-3])
    bad = spike / TRAIN / "spike/000051.dat"
    if encoding == "bytes":
        data = bytearray(bad.read_bytes())
        data[5] = 2
        bad.write_bytes(bytes(data))
    else:
        bad.write_bytes(bad.read_bytes() + bytes(geometry.frame_bytes))
    section = {
        "gopro_root": gopro,
        "spike_root": spike,
        "output_root": tmp_path / "out",
        "spike": spike_section(geometry),
        "voxels": {"bins": BINS},
        "workers": 2,
        **overrides,
    }
    return MiniTree(gopro, spike, tmp_path / "out", geometry, GoproPrepareConfig.model_validate(section))


def expected_problems(encoding: str) -> dict[str, str]:
    if encoding == "bytes":
        return {
            "000049": "missing in sharp",
            "000050": "invalid spike: size 189 bytes is not a whole number of 48-byte frames (bytes 6 x 8)",
            "000051": "invalid spike: value 2 at frame 0, pixel 5 (bytes encoding holds only 0 and 1)",
        }
    return {
        "000049": "missing in sharp",
        "000050": "invalid spike: size 21 bytes is not a whole number of 4-byte frames (bitpacked 4 x 8)",
        "000051": "invalid spike: holds 7 frames of 4 bytes, expected 6 (24 bytes)",
    }


def expected_voxel(sequence: str, frame: str, geometry: SpikeGeometry) -> np.ndarray:
    return spike_to_voxel(sample_spikes(f"{sequence}/{frame}", geometry), BINS, "float32")


def listing(root: Path) -> dict[str, str]:
    """Every entry under root: 'dir', 'file' or '-> <link text>'."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            key = str(path.relative_to(root))
            entries[key] = (
                f"-> {path.readlink()}" if path.is_symlink() else "dir" if path.is_dir() else "file"
            )
    return entries


def digest(root: Path) -> dict[str, str]:
    """Content, mode and mtime of everything under root, to show it was not touched."""
    result = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            stat = path.lstat()
            content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            result[str(path.relative_to(root))] = f"{stat.st_mode} {stat.st_mtime_ns} {content}"
    return result


def expected_links(tree: MiniTree, sequence: str, frames: list[str]) -> dict[str, str]:
    """The relative links of `frames`, as `listing` shows them, plus their folders."""
    entries = {sequence: "dir"}
    for folder, root, suffix in (
        ("blur", tree.gopro, ".png"),
        ("sharp", tree.gopro, ".png"),
        ("spike", tree.spike, ".dat"),
    ):
        entries[f"{sequence}/{folder}"] = "dir"
        for frame in frames:
            target = os.path.relpath(
                root / sequence / folder / f"{frame}{suffix}", tree.out / sequence / folder
            )
            entries[f"{sequence}/{folder}/{frame}{suffix}"] = f"-> {target}"
    return entries
