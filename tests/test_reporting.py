"""What the UI shows, checked without Prefect: the first-episode preview, charts, time left."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.lerobot.preview import THUMB_WIDTH, first_episode_preview
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from tasks.charts import COLORS, line_chart, svg_image
from tasks.reporting import time_left_s

PROJECT = Path(__file__).resolve().parents[1]


def test_preview_shows_frames_of_each_camera_and_the_vectors_of_the_first_episode(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "demo.bag", KuavoBagSpec(duration_s=3.0, width=64, height=48))
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                         [f"input.bags={bag}", f"output_root={tmp_path}/out", "repo_id=test/preview"])
    summary = convert_dataset(config).dataset
    preview = first_episode_preview(summary.root)
    assert preview.frames == summary.frames and preview.picks == (0, round((summary.frames - 1) / 2), summary.frames - 1)
    assert set(preview.strips) == {f"observation.images.{c}" for c in config.cameras}
    strip = cv2.imdecode(np.frombuffer(preview.strips["observation.images.head_cam_h"], np.uint8), cv2.IMREAD_COLOR)
    assert strip.shape[1] == 3 * THUMB_WIDTH + 2 * 4  # three thumbnails, two gaps
    assert preview.vectors["observation.state"].shape == (summary.frames, 16)
    assert preview.vectors["action"].shape == (summary.frames, 16)


def test_line_chart_draws_one_line_per_series_between_the_labelled_extremes() -> None:
    svg = line_chart("rss", [0.0, 1.0, 2.0], {"rss_mb": [100.0, 300.0, 200.0], "peak_rss_mb": [100, 300, 300]}, "s")
    assert svg.count("<polyline") == 2 and ">300<" in svg and ">100<" in svg


def test_coinciding_series_stay_apart_wide_and_pale_under_dashed_with_a_coloured_legend() -> None:
    same = [100.0, 200.0, 300.0]
    svg = line_chart("rss", [0.0, 1.0, 2.0], {"rss_mb": same, "peak_rss_mb": same}, "s")
    rss, peak = re.findall(r"<polyline [^>]*>", svg)
    assert 'stroke-width="4"' in rss and "stroke-opacity" in rss and "dasharray" not in rss
    assert 'stroke-width="1.5"' in peak and "stroke-dasharray" in peak
    for name, colour in (("rss_mb", COLORS[0]), ("peak_rss_mb", COLORS[1])):
        assert "<line x1=" in svg and f'stroke="{colour}" stroke-width="3"/>' in svg and f">{name}</text>" in svg
    assert svg_image(svg, "memory").startswith("![memory](data:image/svg+xml;base64,")


def test_time_left_is_unknown_until_something_is_done() -> None:
    assert time_left_s(5.0, 0.0) is None
    assert time_left_s(10.0, 0.25) == 30.0


def test_memory_table_is_republished_while_work_goes_on(prefect_server: None) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.artifacts import artifact_key
    from tasks.reporting import MemoryMonitor

    @flow
    def slow_work() -> None:
        with MemoryMonitor("monitor-test", "slow work", sample_s=0.1, publish_s=0.3) as monitor:
            for frames in range(1, 11):
                monitor.on_frame(frames, frames / 10)
                time.sleep(0.1)

    slow_work()
    with get_client(sync_client=True) as client:
        versions = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("memory", "monitor-test")])))
        progress = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("progress", "monitor-test")])))
    sizes = sorted(len(json.loads(v.data)) for v in versions)
    assert len(sizes) >= 3 and sizes[0] < sizes[-1]  # published during the work, then once more at its end
    assert all(v.flow_run_id is not None for v in versions)  # the sampling thread wrote into the run
    assert progress[0].description.startswith("slow work: 10 frames")


def test_two_runs_writing_one_dataset_take_turns(prefect_server: None, tmp_path: Path) -> None:
    import threading

    from prefect import flow

    from tasks.dataset_slot import dataset_slot

    events: list[str] = []

    @flow
    def writer(name: str, hold_s: float) -> None:
        with dataset_slot(tmp_path / "out/me/ds"):
            events.append(f"{name} in")
            time.sleep(hold_s)
            events.append(f"{name} out")

    first = threading.Thread(target=writer, args=("first", 1.5))
    first.start()
    while "first in" not in events:
        time.sleep(0.05)
    writer("second", 0.0)  # waits for the first to leave
    first.join()
    assert events == ["first in", "first out", "second in", "second out"]


def _report_of(flow_run_id: Any) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    (report,) = [a for a in artifacts if a.key == "report-default"]
    return report


def test_run_report_on_the_top_level_run_names_failed_and_skipped_bags_validation_and_output(
        prefect_server: None, tmp_path: Path) -> None:
    from flows.convert_all import convert_all

    bags = tmp_path / "bags"
    write_kuavo_bag(bags / "good.bag", KuavoBagSpec(duration_s=2.0, width=32, height=24))
    overrides = [f"rosbag_to_lerobot.input.bags={bags}", f"rosbag_to_lerobot.output_root={tmp_path}/out",
                 "rosbag_to_lerobot.on_bag_error=skip"]
    root = tmp_path / "out/local/kuavo_sample"
    first = convert_all(str(PROJECT / "configs/default.yaml"), overrides, return_state=True)
    assert first.is_completed()
    write_kuavo_bag(bags / "new.bag", KuavoBagSpec(duration_s=2.0, width=32, height=24))
    (bags / "broken.bag").write_bytes(b"not a bag at all")  # a new bag that fails; good.bag is in already
    second = convert_all(str(PROJECT / "configs/default.yaml"), overrides, return_state=True)
    report = _report_of(second.state_details.flow_run_id)
    text = report.data
    assert "1 converted, 1 skipped, 1 failed" in text, text
    assert re.search(r"\| new\.bag \| converted \| \d+ \|", text), text
    assert re.search(r"\| good\.bag \| skipped \|  \| in the dataset already", text), text
    assert re.search(r"\| broken\.bag \| \*\*failed\*\* \|  \| the file is not a bag, or its header is damaged", text), text
    assert f"**Validation**: OK: {root} passed all" in text
    assert f"- rosbag_to_lerobot: `{root}`" in text and "peak RSS" in text
    assert report.description == "Every stage finished, but 1 bag(s) failed and were left out (see below)."

    (bags / "broken.bag").unlink()  # the next run finds nothing new: its report says so, and how to see more
    third = convert_all(str(PROJECT / "configs/default.yaml"), overrides, return_state=True)
    text = _report_of(third.state_details.flow_run_id).data
    assert "**Nothing was new**" in text and "rosbag_to_lerobot.mode=rebuild" in text, text


def test_run_report_of_a_failed_stage_says_so_first_and_shows_its_error() -> None:
    from dataprep.errors import DataprepError
    from tasks.run_report import StageOutcome, report_description, run_report_markdown

    error = DataprepError("2 of 2 bag(s) failed, so /out/ds was not written:\n- /in/a.bag\n    cannot open bag")
    outcomes = [StageOutcome("rosbag_to_lerobot", error, Path("/out/ds"), 4.0),
                StageOutcome("hdf5_index", object(), Path("/out/index"), 1.0, summary="HDF5 index at /out/index")]
    text = run_report_markdown("default.yaml", outcomes, peak_rss_mb=321.0, seconds=5.0)
    assert text.splitlines()[2] == "**1 of 2 stage(s) failed**: rosbag_to_lerobot."
    assert "| rosbag_to_lerobot | **FAILED** |" in text and "| hdf5_index | ok |" in text
    assert "- /in/a.bag\n    cannot open bag" in text and "HDF5 index at /out/index" in text
    assert "peak RSS 321 MB" in text and "- hdf5_index: `/out/index`" in text and "- rosbag_to_lerobot:" not in text
    assert report_description(outcomes) == "1 of 2 stage(s) failed: rosbag_to_lerobot."


def test_the_run_report_names_the_viewer_written_beside_a_dataset(tmp_path: Path) -> None:
    import shutil

    from dataprep.viewer import write_viewer
    from tasks.run_report import StageOutcome, run_report_markdown

    root = tmp_path / "local" / "golden"
    shutil.copytree(Path(__file__).parent / "golden" / "video", root)
    outcome = StageOutcome("rosbag_to_lerobot", {"done": True}, root, 1.0, summary="converted")
    assert "viewer:" not in run_report_markdown("t", [outcome], 100.0, 1.0)
    viewer = write_viewer(root)
    assert f"`{root}` (viewer: `{viewer.index}`)" in run_report_markdown("t", [outcome], 100.0, 1.0)


def test_the_run_report_lists_a_committed_bag_whose_file_changed_as_changed_not_skipped() -> None:
    from types import SimpleNamespace

    from tasks.run_report import StageOutcome, bags_section

    report = SimpleNamespace(bags=(), skipped=(), changed=("/data/bags/a.bag",))
    lines = bags_section(StageOutcome("rosbag_to_lerobot", report, None, 1.0,
                                      planned_bags=["/data/bags/a.bag", "/data/bags/b.bag"]))
    assert lines[0] == "**Bags**: 0 converted, 1 skipped, 0 failed, 1 changed since committed"
    assert "| a.bag | **changed** |  | changed since its episodes were committed; the dataset still holds" in lines[2]
