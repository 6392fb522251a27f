"""A synthetic Kuavo-like ROS1 bag converted end to end and read back the way users read datasets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import datasets
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from oracle import Rule, expected_frames, read_topics

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.conversion.staging import staging_root
from dataprep.lerobot.video import psnr, read_video_frames
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.sample.kuavo_bag import CAMERA_TOPICS, frame_number_from_image

PROJECT = Path(__file__).resolve().parents[1]
MS = 1_000_000
CAMERAS = {"head_cam_h": "cam_h", "wrist_cam_l": "cam_l", "wrist_cam_r": "cam_r"}
SENSORS, ARM, CLAW_STATE, CLAW_CMD = "/sensors_data_raw", "/kuavo_arm_traj", "/leju_claw_state", "/leju_claw_command"
RULES = [
    *(Rule(CAMERA_TOPICS[cam], "nearest", 40 * MS) for cam in CAMERAS.values()),
    Rule(SENSORS, "nearest", 20 * MS),
    Rule(CLAW_STATE, "hold"),
    Rule(ARM, "nearest", 100 * MS),
    Rule(CLAW_CMD, "hold", required=False),
]
SPEC = KuavoBagSpec(duration_s=6.0, width=160, height=120, late_camera="cam_r", late_start_s=0.5,
                    dropped_frames={"cam_l": tuple(range(60, 68)), "cam_h": (100,)})


def kuavo_config(bag: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs" / "kuavo.yaml",
                       [f"input.bags={bag}", f"output_root={out}", "repo_id=test/kuavo", "chunk_size=16",
                        "task=Pick the cube", *overrides])


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("kuavo")
    bag = write_kuavo_bag(tmp / "demo.bag", SPEC)
    config = kuavo_config(bag, tmp / "out")
    chunks: list = []
    report = convert_dataset(config, on_chunk=chunks.append)
    summary, (record,) = report.dataset, report.bags
    topics = read_topics(bag, [r.topic for r in RULES])
    expected = expected_frames({t: v[0] for t, v in topics.items()}, RULES, config.fps,
                               CAMERA_TOPICS["cam_h"], config.timeline.sample_drop)
    return {"config": config, "summary": summary, "root": summary.root, "record": record, "topics": topics,
            "expected": expected, "chunks": chunks}


def data_table(root: Path) -> pd.DataFrame:
    return pq.read_table(root / "data/chunk-000/file-000.parquet").to_pandas()


def test_keeps_exactly_the_frames_the_alignment_rules_allow(converted: dict) -> None:
    expected, record, summary = converted["expected"], converted["record"], converted["summary"]
    assert summary.frames == len(expected.ticks) == record.frames == len(data_table(converted["root"]))
    assert 40 < summary.frames < 60
    # the 8 missing wrist frames (~270 ms) cost ticks, counted under the wrist camera's reason
    assert record.dropped == {"no /cam_l/color/image_raw/compressed message within 40 ms (nearest)": expected.dropped}
    assert expected.dropped >= 2
    assert record.trimmed["sample_drop at start"] == 2 and record.trimmed["sample_drop at end"] == 2
    info = json.loads((converted["root"] / "meta/info.json").read_text())
    assert info["total_frames"] == summary.frames and info["total_episodes"] == 1


def test_grid_starts_after_the_late_camera(converted: dict) -> None:
    first_late = converted["topics"][CAMERA_TOPICS["cam_r"]][0][0]
    assert converted["expected"].ticks[0] >= first_late
    assert converted["record"].span_s[0] >= SPEC.late_start_s


def test_timestamps_and_indices(converted: dict) -> None:
    table = data_table(converted["root"])
    n = len(table)
    assert table["frame_index"].tolist() == list(range(n))
    assert table["index"].tolist() == list(range(n))
    np.testing.assert_array_equal(table["timestamp"].to_numpy(), (np.arange(n) / 10).astype(np.float32))
    assert set(table["episode_index"]) == {0} and set(table["task_index"]) == {0}


def expected_vectors(topics: dict, picks: list[int | None]) -> tuple[np.ndarray, np.ndarray]:
    sensors = topics[SENSORS][1][picks[3]].joint_data.joint_q
    claw = topics[CLAW_STATE][1][picks[4]].data.position
    arm = np.deg2rad(topics[ARM][1][picks[5]].position)
    cmd = topics[CLAW_CMD][1][picks[6]].data.position if picks[6] is not None else np.zeros(2)
    state = np.concatenate([sensors[12:19], [claw[0] / 100], sensors[19:26], [claw[1] / 100]])
    action = np.concatenate([arm[0:7], [cmd[0] / 100], arm[7:14], [cmd[1] / 100]])
    return state.astype(np.float32), action.astype(np.float32)


def test_vectors_equal_the_source_messages_at_the_aligned_times(converted: dict) -> None:
    table, topics, expected = data_table(converted["root"]), converted["topics"], converted["expected"]
    for row, picks in zip(table.itertuples(), expected.picks):
        state, action = expected_vectors(topics, picks)
        np.testing.assert_array_equal(np.asarray(row[1], dtype=np.float32), state)
        np.testing.assert_array_equal(np.asarray(row[2], dtype=np.float32), action)


@pytest.mark.parametrize("camera", list(CAMERAS))
def test_video_frames_are_the_aligned_source_images(converted: dict, camera: str) -> None:
    root, topics, expected = converted["root"], converted["topics"], converted["expected"]
    topic = CAMERA_TOPICS[CAMERAS[camera]]
    column = [r.topic for r in RULES].index(topic)
    video = root / f"videos/observation.images.{camera}/chunk-000/file-000.mp4"
    frames = list(read_video_frames(video))
    assert len(frames) == len(expected.ticks)
    for frame, picks in zip(frames, expected.picks):
        message = topics[topic][1][picks[column]]
        source = cv2.cvtColor(cv2.imdecode(np.frombuffer(message.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert frame.shape == source.shape
        assert psnr(frame, source) > 30
        assert frame_number_from_image(frame) == message.header.seq


def test_stats_equal_numpy_on_the_written_data(converted: dict) -> None:
    root = converted["root"]
    stats = json.loads((root / "meta/stats.json").read_text())
    table = data_table(root)
    for key in ("observation.state", "action"):
        values = np.stack(table[key].to_numpy()).astype(np.float64)
        np.testing.assert_allclose(stats[key]["min"], values.min(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["max"], values.max(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["mean"], values.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(stats[key]["std"], values.std(0), rtol=1e-5, atol=1e-7)
        assert stats[key]["count"] == [len(values)]
        spread = values.max(0) - values.min(0)
        for q in ("q01", "q10", "q50", "q90", "q99"):
            np.testing.assert_allclose(stats[key][q], np.quantile(values, int(q[1:]) / 100, axis=0),
                                       atol=float(spread.max()) * 2 / 5000 + 1e-6)
    frames = np.stack(list(read_video_frames(root / "videos/observation.images.head_cam_h/chunk-000/file-000.mp4")))
    image_mean = frames.reshape(-1, 3).mean(0) / 255
    assert np.asarray(stats["observation.images.head_cam_h"]["mean"]).shape == (3, 1, 1)
    np.testing.assert_allclose(np.asarray(stats["observation.images.head_cam_h"]["mean"]).reshape(3), image_mean,
                               atol=0.03)


def test_loads_with_hf_datasets_and_metadata_is_consistent(converted: dict) -> None:
    root = converted["root"]
    dataset = datasets.Dataset.from_parquet(str(root / "data/chunk-000/file-000.parquet"))
    assert len(dataset) == converted["summary"].frames
    assert dataset.features["observation.state"].length == 16
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert len(episodes) == 1 and episodes[0]["length"] == converted["summary"].frames
    assert episodes[0]["videos/observation.images.head_cam_h/to_timestamp"] == pytest.approx(
        converted["summary"].frames / 10)
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task" and tasks.loc["Pick the cube", "task_index"] == 0


def test_memory_is_reported_every_chunk(converted: dict) -> None:
    chunks = converted["chunks"]
    frames = converted["summary"].frames
    assert [c.frames for c in chunks] == [*range(16, frames + 1, 16), frames][: len(chunks)]
    assert chunks[-1].frames == frames and chunks[-1].progress == pytest.approx(1.0, abs=0.05)
    assert all(c.memory.rss > 0 and c.memory.peak_rss >= c.memory.rss * 0.9 for c in chunks)


def test_a_rerun_finds_the_bag_committed_and_reads_nothing(converted: dict) -> None:
    config = converted["config"]
    again = convert_dataset(config)
    assert again.bags == () and again.dataset.frames == converted["summary"].frames
    assert not staging_root(config).exists()  # the committed bag's staging went with the commit


def test_max_episode_frames_splits_one_bag_into_several_episodes(converted: dict, tmp_path: Path) -> None:
    config = kuavo_config(Path(converted["config"].input.bags[0]), tmp_path, "max_episode_frames=20",
                          "video.codec=h264")
    summary = convert_dataset(config).dataset
    assert summary.frames == converted["summary"].frames
    lengths = [e["length"] for e in pq.read_table(summary.root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()]
    assert lengths == [20, 20, summary.frames - 40]
    table = data_table(summary.root)  # the three episodes share one file
    table = table[table["episode_index"] == 2]
    assert len(table) == lengths[2] and table["index"].iloc[0] == 40
    assert table["frame_index"].tolist() == list(range(lengths[2]))
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert info["features"]["observation.images.head_cam_h"]["info"]["video.codec"] == "h264"
    video = summary.root / "videos/observation.images.wrist_cam_r/chunk-000/file-000.mp4"
    assert sum(1 for _ in read_video_frames(video)) == sum(lengths)
