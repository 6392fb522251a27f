"""The quality report's numbers against bags whose gaps, offsets and repeats the tests planted themselves."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_bag, convert_dataset
from dataprep.conversion.staging import settings_hash, staging_root
from dataprep.errors import DataprepError
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.quality_files import BagFile, TopicTotals, read_document
from dataprep.sample import KuavoBagSpec, Ros2BagSpec, write_kuavo_bag, write_ros2_bag
from dataprep.sample.kuavo_bag import CAMERA_TOPICS

PROJECT = Path(__file__).resolve().parents[1]
STALL = tuple(range(30, 90))  # cam_l loses frames 30..89: silent from 0.967 s to 3.000 s, a 2.03 s gap
WRIST = "observation.images.wrist_cam_l"


@pytest.fixture(scope="module")
def stalled_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kuavo_bag(tmp_path_factory.mktemp("stall") / "stall.bag",
                           KuavoBagSpec(duration_s=5.0, width=64, height=48, dropped_frames={"cam_l": STALL}))


def kuavo_config(bag: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                       [f"input.bags={bag}", f"output_root={out}", "repo_id=test/quality", *overrides])


def test_a_camera_stalling_for_2_s_is_measured_and_marks_the_episode_failing(stalled_bag: Path, tmp_path: Path) -> None:
    config = kuavo_config(stalled_bag, tmp_path / "out")
    report = convert_dataset(config)
    (episode,) = report.bags[0].episodes
    quality = episode.quality
    assert quality is not None
    wrist = quality.topics[CAMERA_TOPICS["cam_l"]]
    assert wrist.max_gap_s == pytest.approx(61 / 30, abs=0.002) and wrist.p95_gap_s == pytest.approx(1 / 30, abs=0.002)
    assert wrist.messages == 150 - len(STALL) and wrist.rate_hz == pytest.approx(89 / (149 / 30), rel=0.01)
    # ticks every 100 ms; the nearest policy (40 ms) covers 1.007-2.960 s of the gap with nothing: 19 or 20 ticks
    (reason, dropped), = quality.dropped.items()
    assert reason == f"no {CAMERA_TOPICS['cam_l']} message within 40 ms (nearest)" and dropped in (19, 20)
    assert quality.ticks == quality.frames + dropped + 2 * config.timeline.sample_drop
    assert quality.channels[WRIST].match_rate == pytest.approx(1 - dropped / quality.ticks, abs=1e-4)
    assert quality.channels[WRIST].max_offset_ms <= 40 and quality.channels[WRIST].repeated == 0
    assert f"{WRIST}: camera gap of 2.03 s > max_camera_gap_s 0.5 s" in quality.failing
    assert quality.score == pytest.approx(1 - dropped / quality.ticks, abs=1e-3)

    document = read_document(report.dataset.root)
    assert document is not None
    assert document.failing_episodes == [0] and document.totals.failing == 1
    assert document.totals.settings_hash == settings_hash(config)
    assert document.totals.topics[CAMERA_TOPICS["cam_l"]] == TopicTotals(wrist.messages, wrist.rate_hz, wrist.max_gap_s)
    provenance = document.episodes[0].provenance
    assert provenance.bag == str(stalled_bag.resolve()) and provenance.staging_key == report.bags[0].key
    assert provenance.bag_files == (BagFile("stall.bag", stalled_bag.stat().st_size, stalled_bag.stat().st_mtime_ns),)
    assert provenance.span_s == pytest.approx(episode.span_s) and 0 < episode.span_s[0] < 0.5
    assert document.episodes[0].quality == quality  # the typed record, read back as it was measured
    # the extra file under meta/ does not disturb reading the dataset
    data = datasets.Dataset.from_parquet(str(report.dataset.root / "data/chunk-000/file-000.parquet"))
    assert len(data) == report.dataset.frames


def test_failing_episodes_are_excluded_or_fail_the_bag_as_configured(stalled_bag: Path, tmp_path: Path) -> None:
    excluded_config = kuavo_config(stalled_bag, tmp_path / "a", "max_episode_frames=10", "quality.on_failing=exclude")
    excluded = convert_bag(excluded_config, stalled_bag)
    gone = [e.span_s for e in excluded.excluded]
    assert gone and all(start < 3.0 and end > 0.96 for start, end in gone)  # each overlaps the stall
    assert all(not e.quality.failing for e in excluded.episodes if e.quality)
    assert len(gone) == 1 and len(excluded.episodes) == 2  # ~30 frames kept in episodes of 10
    staged = staging_root(excluded_config) / excluded.key
    for episode in excluded.episodes:  # each staged episode.json keeps its measured quality, typed
        assert StagedEpisode.load(staged / episode.folder).quality == episode.quality
    with pytest.raises(DataprepError, match=rf"bag {stalled_bag}: episode-0000 \(0\.\d\d-4\.\d\d s\) fails the quality "
                                            rf"thresholds: .*of ticks dropped.*{WRIST}: camera gap of 2\.03 s"):
        convert_bag(kuavo_config(stalled_bag, tmp_path / "b", "quality.on_failing=fail"), stalled_bag)


def test_a_camera_slower_than_the_grid_repeats_frames_with_the_planted_offsets(tmp_path: Path) -> None:
    bag = write_ros2_bag(tmp_path / "bag", Ros2BagSpec(duration_s=3.0, camera_hz=5.0, joint_hz=50.0, width=32, height=24))
    config = ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(tmp_path / "out"), "repo_id": "test/slow", "fps": 10,
        "task": "t", "quality": {"max_repeat_share": 0.4},
        "cameras": {"front": {"topic": "/camera/image_raw", "align": {"policy": "nearest", "tolerance_s": 0.1}}},
        "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}}})
    (episode,) = convert_bag(config, bag).episodes
    quality = episode.quality
    assert quality is not None
    camera = quality.channels["observation.images.front"]
    # camera frames every 200 ms on the 100 ms grid: odd ticks take the frame before, 100 ms away
    assert quality.frames == 30 and camera.repeated == 15
    assert camera.mean_offset_ms == 50.0 and camera.max_offset_ms == 100.0
    assert quality.channels["observation.state <- /joint_states position"].max_offset_ms == 0.0
    assert quality.topics["/camera/image_raw"].rate_hz == 5.0 and quality.topics["/camera/image_raw"].max_gap_s == 0.2
    assert quality.topics["/joint_states"].skew_mean_ms == 0.0  # stamped at receive time
    assert quality.score == 0.5 and quality.reasons == (("observation.images.front: 50.0% of frames repeat the "
                                                        "previous camera frame"),)
    assert quality.failing == ("observation.images.front: 50.0% repeated frames > max_repeat_share 40%",)


def test_gaps_of_a_long_topic_are_held_in_a_fixed_histogram_with_p95_within_a_thousandth() -> None:
    from dataprep.conversion.quality import GAP_BUFFER, _Gaps

    rng = np.random.default_rng(0)
    values = (0.002 + rng.exponential(0.0005, 3 * GAP_BUFFER + 17)).astype(np.float32)
    gaps = _Gaps()
    for value in values.tolist():
        gaps.append(value)
    assert len(gaps.buffer) < GAP_BUFFER and gaps.histogram is not None and gaps.histogram.nbytes < 128_000
    p95, largest = gaps.p95_and_max()
    assert p95 == pytest.approx(float(np.percentile(values, 95)), rel=0.0011)
    assert largest == float(values.max())
