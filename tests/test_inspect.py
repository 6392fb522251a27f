"""inspect_bags: per-topic summaries checked against planted gaps, and drafted configs that convert as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.config import PipelineConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.errors import DataprepError
from dataprep.inspect import draft_config, inspect_bag
from dataprep.sample import KuavoBagSpec, ensure_kuavo_sample, write_kuavo_bag
from dataprep.sample.kuavo_bag import CAMERA_TOPICS
from flows import convert_all, inspect_bags


def test_summary_shows_the_planted_gap_late_start_rates_and_lengths(tmp_path: Path) -> None:
    spec = KuavoBagSpec(duration_s=3.0, width=64, height=48, late_camera="cam_r", late_start_s=0.5,
                        dropped_frames={"cam_l": tuple(range(30, 36))})
    summary = inspect_bag(write_kuavo_bag(tmp_path / "a.bag", spec))
    topics = {t.topic: t for t in summary.topics}
    cam_l, cam_r = topics[CAMERA_TOPICS["cam_l"]], topics[CAMERA_TOPICS["cam_r"]]
    assert cam_l.count == 90 - 6 and cam_l.max_gap_s == pytest.approx(7 / 30, abs=0.0011)  # 6 frames lost
    assert cam_l.p95_gap_s == pytest.approx(1 / 30, abs=0.0011)
    assert cam_r.start_s == pytest.approx(0.5, abs=0.006) and cam_r.count == 75
    assert cam_l.image is not None and (cam_l.image.width, cam_l.image.height) == (64, 48)
    assert cam_l.image.encoding == "rgb8; jpeg compressed bgr8"
    sensors = topics["/sensors_data_raw"]
    assert sensors.rate_hz == pytest.approx(100, rel=0.01) and ("joint_data.joint_q", 28) in sensors.fields
    assert not any(path.startswith(("header", "sensor_time")) for path, _ in sensors.fields)


def test_draft_config_of_the_bundled_sample_converts_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the draft writes under ./outputs
    sample = ensure_kuavo_sample(tmp_path / "kuavo_sample.bag")
    assert inspect_bags.main([str(sample), "--draft-config", "draft.yaml"]) == 0
    printed = capsys.readouterr().out
    assert f"{CAMERA_TOPICS['cam_l']}  sensor_msgs/msg/CompressedImage  229 msgs" in printed
    assert "wrote draft.yaml from 1 bag(s); convert with: python -m flows.convert_all --config draft.yaml" in printed
    draft = (tmp_path / "draft.yaml").read_text()
    assert "  fps: 15  # from the main camera at 29.9 Hz" in draft and "timeline: {main_camera: cam_h}" in draft
    assert convert_all.main(["--config", "draft.yaml"]) == 0
    info = json.loads((tmp_path / "outputs/local/kuavo_sample/meta/info.json").read_text())
    assert info["fps"] == 15 and info["total_frames"] > 100
    assert info["features"]["observation.sensors_data_raw"]["shape"] == [131]
    assert info["features"]["observation.images.cam_h"]["shape"] == [240, 320, 3]
    assert inspect_bags.main([str(sample), "--draft-config", "draft.yaml"]) == 2
    assert "draft.yaml exists already" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "frames", "error"), [
    ("rosbag2-cdr_test_mcap", 2, None),
    ("rosbag2-cdr_test_sqlite3", 2, None),
    ("rosbagjs-example.bag", 606, None),
    ("rosbagjs-example-lz4.bag", 606, None),
    # every image of that bag claims 640x480 rgb8 and carries 30 bytes
    ("rosbags-rs-test_bag_mcap", 0, (r"no frame kept: all 2 aligned frame\(s\) were dropped; dropped: .*"
                                    r"2 x /test/sensor_msgs/image: image payload does not match its declared size")),
])
def test_every_real_bag_converts_with_its_draft_or_fails_precisely(
        fixture_bags: Path, tmp_path: Path, name: str, frames: int, error: str | None) -> None:
    bag = fixture_bags / name
    (tmp_path / "draft.yaml").write_text(draft_config([inspect_bag(bag)], [bag]))
    config = load_config(PipelineConfig, tmp_path / "draft.yaml",
                         [f"rosbag_to_lerobot.output_root={tmp_path}/out"]).rosbag_to_lerobot
    assert config is not None
    if error is not None:
        with pytest.raises(DataprepError, match=error):
            convert_dataset(config)
        return
    assert convert_dataset(config).dataset.frames == frames


def test_inspect_names_an_unreadable_bag_and_still_shows_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_kuavo_bag(tmp_path / "bags/good.bag", KuavoBagSpec(duration_s=1.0, width=32, height=24))
    (tmp_path / "bags/junk.bag").write_bytes(b"\xa3" * 100)
    assert inspect_bags.main([str(tmp_path / "bags"), "--draft-config", str(tmp_path / "d.yaml")]) == 2
    captured = capsys.readouterr()
    assert "/sensors_data_raw  kuavo_msgs/msg/sensorsData" in captured.out and "from 1 bag(s)" in captured.out
    assert captured.err == (f"error: 1 of 2 bag(s) cannot be read:\nbag {tmp_path / 'bags/junk.bag'}: the file is "
                            "not a bag, or its header is damaged (its first bytes are not a bag's text header)\n")
    assert str(tmp_path / "bags/good.bag") in (tmp_path / "d.yaml").read_text()
