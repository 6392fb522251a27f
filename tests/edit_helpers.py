"""Shared pieces of the edit tests: a small converted dataset with shared files, and ways to look into one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.config.models import InputSpec
from dataprep.conversion import convert_dataset
from dataprep.edit import read_source
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from tests.frame_numbers import decode_at

PROJECT = Path(__file__).resolve().parents[1]
REPO = "test/edit"
CAMERA = "observation.images.head_cam_h"
# small files: two or three episodes share each data and video file
SMALL_FILES = ("data_files_size_in_mb=0.03", "video_files_size_in_mb=0.02", "chunk_size=10")


def config_for(bags: list[Path], out: Path) -> ConvertConfig:
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                         [f"input.bags={bags[0]}", f"output_root={out}", f"repo_id={REPO}", *SMALL_FILES])
    return config.model_copy(update={"input": InputSpec(bags=tuple(str(bag) for bag in bags))})


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bags")
    for i, name in enumerate("abcde"):
        write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=64, height=48))
    return sorted(folder.glob("*.bag"))


@pytest.fixture(scope="module")
def converted(bags: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder with the dataset of bags a..d (episodes 0..3), committed."""
    out = tmp_path_factory.mktemp("converted")
    convert_dataset(config_for(bags[:4], out))
    return out


def copy_of(converted: Path, tmp_path: Path) -> Path:
    shutil.copytree(converted, tmp_path / "out")
    return tmp_path / "out" / REPO


def episode_frames(root: Path, episode: int, key: str = CAMERA) -> list[np.ndarray]:
    """Decoded frames of an episode, found as lerobot finds them (from_timestamp + k/fps)."""
    source = read_source(root)
    ep = source.episodes[episode]
    place = ep.videos[key]
    path = root / source.info.video_file(key, place.chunk, place.file)
    return decode_at(path, [place.from_timestamp + k / source.info.fps for k in range(ep.length)])


def episode_rows(root: Path, episode: int) -> dict[str, list]:
    source = read_source(root)
    ep = source.episodes[episode]
    table = pq.read_table(root / source.info.data_file(*ep.data), filters=[("episode_index", "=", episode)])
    return table.to_pydict()


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
