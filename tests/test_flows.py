"""The Prefect layer against a real Prefect test server: flows run, artifacts recorded and read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion.staging import bag_key
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from flows.convert_all import main
from flows.rosbag_to_lerobot import rosbag_to_lerobot
from tasks.artifacts import artifact_key

PROJECT = Path(__file__).resolve().parents[1]


def read_artifact(key: str) -> object:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                      sort=ArtifactSort.CREATED_DESC)  # the latest version first
    assert found, f"no artifact {key}"
    return found[0]


def test_artifact_keys_are_valid_and_stay_distinct_when_cut() -> None:
    assert artifact_key("memory", "Local/Kuavo_Sample", "demo 1.bag") == "memory-local-kuavo-sample-demo-1-bag"
    long_a, long_b = artifact_key("x" * 300, "a"), artifact_key("x" * 300, "b")
    assert len(long_a) == len(long_b) == 100 and long_a != long_b
    assert all((c.isalnum() and c.islower()) or c.isdigit() or c == "-" for c in long_a)


def test_flow_records_memory_per_chunk_progress_and_episode_summary(prefect_server: None, tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "demo.bag", KuavoBagSpec(duration_s=5.0, width=160, height=120,
                                                               dropped_frames={"cam_l": tuple(range(40, 48))}))
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                         [f"input.bags={bag}", f"output_root={tmp_path}/out", "repo_id=test/flow", "chunk_size=10"])
    report = rosbag_to_lerobot(config)
    summary = report.dataset
    assert summary.frames > 30 and report.bags[0].frames == summary.frames and (summary.root / "meta/info.json").is_file()

    root = config.dataset_root.resolve()
    key = artifact_key(root, bag_key(bag, config))
    memory = read_artifact(artifact_key("memory", key))
    rows = json.loads(memory.data)
    chunks = [r for r in rows if r["event"].startswith("chunk ")]
    assert len(chunks) == -(-summary.frames // 10)  # one row per chunk, the last one partial
    assert chunks[-1]["frames"] == summary.frames and rows[-1]["event"] == "end"
    assert set(rows[0]) == {"elapsed_s", "event", "frames", "progress_pct", "rss_mb", "peak_rss_mb", "available_mb"}
    assert all(r["rss_mb"] > 0 and r["available_mb"] > 0 for r in rows)
    assert [r["elapsed_s"] for r in rows] == sorted(r["elapsed_s"] for r in rows)

    progress = read_artifact(artifact_key("progress", key))
    assert progress.type == "progress" and float(progress.data) == 100.0
    assert f"demo.bag: {summary.frames} frames" in progress.description

    episode = read_artifact(artifact_key("episode", key)).data
    assert f"| episode-0000 | {summary.frames} | {summary.frames / 10}" in episode
    assert "no /cam_l/color/image_raw/compressed message within 40 ms (nearest)" in episode
    validation = read_artifact(artifact_key("validation", config.dataset_root.resolve())).data  # the flow validated what it wrote
    assert f"**OK**: 1 episode(s), {summary.frames} frames, 3 video file(s)" in validation
    assert "observation.state <- /sensors_data_raw joint_data.joint_q[12:19]" in episode

    quality = read_artifact(artifact_key("quality", config.dataset_root.resolve())).data
    assert "# Quality of `test/flow`" in quality and "| 0 | `demo.bag` |" in quality

    for stage in ("plan", "finalize"):
        row = json.loads(read_artifact(artifact_key("memory", root, stage)).data)[0]
        assert row["stage"] == stage and row["peak_rss_mb"] > 0


def test_convert_all_with_no_arguments_converts_the_bundled_sample(prefect_server: None, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default configuration writes under ./outputs
    assert main([]) == 0
    printed = capsys.readouterr().out
    root = tmp_path / "outputs/local/kuavo_sample"
    assert f"dataset local/kuavo_sample at {root}" in printed
    assert "observation.images.head_cam_h: video [240, 320, 3]" in printed
    assert "outputs/sample/kuavo_sample.bag: " in printed and " frames kept, " in printed
    info = json.loads((root / "meta/info.json").read_text())
    assert info["total_frames"] > 50 and info["robot_type"] == "kuavo_4pro"
    assert (tmp_path / "outputs/sample/kuavo_sample.bag").is_file()


def test_flow_skips_a_bad_bag_when_asked_and_says_so(prefect_server: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bags"
    write_kuavo_bag(folder / "good.bag", KuavoBagSpec(duration_s=2.0, width=64, height=48))
    (folder / "broken.bag").write_bytes(b"#ROSBAG V2.0\n")
    overrides = ["--set", f"rosbag_to_lerobot.input.bags={folder}",
                 "--set", f"rosbag_to_lerobot.output_root={tmp_path}/out",
                 "--set", "rosbag_to_lerobot.input.generate_sample_if_missing=false"]
    assert main(overrides) == 2
    assert "1 of 2 bag(s) failed" in capsys.readouterr().err
    assert main([*overrides, "--set", "rosbag_to_lerobot.on_bag_error=skip"]) == 0
    printed = capsys.readouterr().out
    assert "1 episode(s)" in printed
    assert f"{folder / 'broken.bag'}: SKIPPED (on_bag_error: skip): cannot open bag" in printed
