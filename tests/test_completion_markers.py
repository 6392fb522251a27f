"""Completion markers reach the disk after what they mark: recorded on a real staged conversion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dataprep.config import ConvertConfig
from dataprep.conversion.bag_to_episodes import convert_bag
from dataprep.conversion.staging import BAG_MARKER, staging_root
from dataprep.lerobot.staged_episode import MARKER_FILE
from dataprep.sample import Ros2BagSpec, write_ros2_bag

MARKERS = (BAG_MARKER, MARKER_FILE)


def config_for(bag: Path, out: Path, storage: str) -> ConvertConfig:
    return ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(out), "repo_id": "test/markers", "fps": 5, "task": "t",
        "camera_storage": storage, "cameras": {"front": {"topic": "/camera/image_raw"}},
        "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}},
        "max_episode_frames": 4,  # several episodes, several markers
    })


@pytest.fixture
def disk_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every os.fsync (by the path of its descriptor) and os.replace (by destination), in call order."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", str(Path(f"/proc/self/fd/{fd}").readlink())))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        calls.append(("replace", str(Path(dst).absolute())))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("storage", ["video", "image"])
def test_every_marker_is_renamed_into_place_after_its_data_is_fsynced(tmp_path: Path, storage: str,
                                                                     disk_calls: list[tuple[str, str]]) -> None:
    bag = write_ros2_bag(tmp_path / "bag", Ros2BagSpec(duration_s=3.0))
    config = config_for(bag, tmp_path / "out", storage)
    conversion = convert_bag(config, bag)
    assert len(conversion.episodes) >= 2
    markers = [(i, Path(path)) for i, (call, path) in enumerate(disk_calls)
               if call == "replace" and Path(path).name in MARKERS]
    folder = staging_root(config) / conversion.key
    assert {path for _, path in markers} == {folder / BAG_MARKER,
                                             *(folder / e.folder / MARKER_FILE for e in conversion.episodes)}
    for index, marker in markers:
        before = {Path(path) for call, path in disk_calls[:index] if call == "fsync"}
        data = [p for p in marker.parent.rglob("*") if p != marker]
        assert any(p.name.endswith((".parquet", ".mp4")) for p in data)  # the marker marks real data
        assert not [p for p in data if p not in before], f"{marker} renamed before its data was fsynced"
        after = [Path(path) for call, path in disk_calls[index + 1:] if call == "fsync"]
        assert marker.parent in after  # the rename itself made durable
