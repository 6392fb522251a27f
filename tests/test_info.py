"""meta/info.json's model: lerobot's keys in lerobot's order, packing limits as given, errors naming the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from golden import frames
from golden.write_ours import our_schema

from dataprep.lerobot.info import DatasetInfo, DatasetInfoError
from dataprep.lerobot.meta_writer import write_info
from dataprep.lerobot.packing import PackLimits
from dataprep.validate import validate_dataset

GOLDEN = Path(__file__).resolve().parent / "golden"


def info_json(root: Path) -> dict:
    return json.loads((root / "meta/info.json").read_text())


@pytest.mark.parametrize("mode", ["video", "image"])
def test_lerobots_info_json_reads_and_writes_back_unchanged(tmp_path: Path, mode: str) -> None:
    info = DatasetInfo.read(GOLDEN / mode)
    info.write(tmp_path)

    written = info_json(tmp_path)
    assert written == info_json(GOLDEN / mode)
    assert list(written) == list(info_json(GOLDEN / mode))
    for key, feature in written["features"].items():
        assert list(feature) == list(info_json(GOLDEN / mode)["features"][key]), key
    assert info.video_keys == ([frames.CAMERA] if mode == "video" else [])
    assert info.data_file(0, 3) == "data/chunk-000/file-003.parquet"


@pytest.mark.parametrize("mode", ["video", "image"])
def test_schema_features_are_the_typed_records_info_json_reads_back(mode: str) -> None:
    """What the writer renders from the schema equals, record for record, what lerobot's info.json reads as."""
    from dataprep.lerobot.info import FeatureInfo
    from dataprep.lerobot.schema import info_features
    from dataprep.lerobot.video import VideoInfo

    golden = DatasetInfo.read(GOLDEN / mode)
    camera = golden.features[frames.CAMERA]
    videos = {}
    if mode == "video":
        stream = camera.info or {}
        videos[frames.CAMERA] = VideoInfo(height=stream["video.height"], width=stream["video.width"],
                                          codec_name=stream["video.codec"], pix_fmt=stream["video.pix_fmt"],
                                          fps=stream["video.fps"], g=stream["video.g"], crf=stream["video.crf"],
                                          preset=stream["video.preset"], frames=0)
    features = info_features(our_schema(mode), {frames.CAMERA: camera.shape}, videos)  # type: ignore[dict-item]

    assert all(isinstance(f, FeatureInfo) for f in features.values())
    assert list(features) == list(golden.features) and features == golden.features


def test_write_info_records_the_packing_limits_it_is_given(tmp_path: Path) -> None:
    golden = DatasetInfo.read(GOLDEN / "video")
    features = golden.features
    totals = (len(frames.EPISODES), sum(length for length, _ in frames.EPISODES), 2)

    info = write_info(
        tmp_path, our_schema("video"), features, totals,
        PackLimits(chunks_size=3, data_files_size_in_mb=0.5, video_files_size_in_mb=2),
    )  # fmt: skip

    assert DatasetInfo.read(tmp_path) == info
    written = info_json(tmp_path)
    assert (written["chunks_size"], written["data_files_size_in_mb"], written["video_files_size_in_mb"]) == (3, 0.5, 2)
    assert written | {"chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200} == info_json(
        GOLDEN / "video"
    )


def test_keys_another_tool_added_survive_after_lerobots(tmp_path: Path) -> None:
    data = info_json(GOLDEN / "video")
    data["made_by"] = "some tool"
    data["features"]["action"]["unit"] = "rad"
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/info.json").write_text(json.dumps(data))

    DatasetInfo.read(tmp_path).write(tmp_path)

    written = info_json(tmp_path)
    assert list(written)[-1] == "made_by" and written == data
    assert list(written["features"]["action"]) == ["dtype", "shape", "names", "unit"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda info: info.update(fps="10"), r"info\.json: fps: Input should be a valid integer"),
        (lambda info: info.update(fps=0), r"info\.json: fps: Input should be greater than 0"),
        (lambda info: info.pop("total_frames"), r"info\.json: total_frames: Field required"),
        (lambda info: info["features"]["action"].update(shape=["2"]), r"info\.json: features\.action\.shape\.0: "),
        (lambda info: info["features"]["action"].pop("dtype"), r"info\.json: features\.action\.dtype: Field required"),
    ],
)
def test_invalid_field_is_named_with_the_file(tmp_path: Path, change, message: str) -> None:
    root = Path(shutil.copytree(GOLDEN / "video" / "meta", tmp_path / "meta")).parent
    data = info_json(root)
    change(data)
    (root / "meta/info.json").write_text(json.dumps(data))

    with pytest.raises(DatasetInfoError, match=message):
        DatasetInfo.read(root)


def test_missing_or_broken_info_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetInfoError, match=r"meta/info\.json: missing"):
        DatasetInfo.read(tmp_path)
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/info.json").write_text('{"fps": 10,')
    with pytest.raises(DatasetInfoError, match=r"meta/info\.json: unreadable"):
        DatasetInfo.read(tmp_path)
    (tmp_path / "meta/info.json").write_text("[1, 2]")
    with pytest.raises(DatasetInfoError, match=r"meta/info\.json: expected a JSON object, found list"):
        DatasetInfo.read(tmp_path)


def test_validator_reports_an_invalid_info_json_as_one_finding(tmp_path: Path) -> None:
    root = Path(shutil.copytree(GOLDEN / "video", tmp_path / "dataset"))
    data = info_json(root)
    data["total_tasks"] = -1
    (root / "meta/info.json").write_text(json.dumps(data))

    [finding] = validate_dataset(root).findings

    assert (finding.check, finding.file) == ("meta.info", "meta/info.json")
    assert finding.message.startswith("total_tasks: Input should be greater than or equal to 0")
