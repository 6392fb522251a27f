"""The conversion flow writes the viewer after a run when `viewer.enabled` is set, and links it from the run
(against the real Prefect test server)."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from dataprep.config import ConvertConfig
from dataprep.sample import Ros2BagSpec, write_ros2_bag
from flows.rosbag_to_lerobot import rosbag_to_lerobot
from tasks.artifacts import artifact_key
from tasks.viewer import link_existing_viewer


def config_for(tmp: Path, **changes: object) -> ConvertConfig:
    bag = write_ros2_bag(tmp / "bag", Ros2BagSpec(duration_s=1.2, width=64, height=48))
    data = {"input": {"bags": str(bag)}, "output_root": str(tmp / "out"), "repo_id": "test/viewed", "fps": 5,
            "task": "wave", "chunk_size": 4, "video": {"codec": "h264"},
            "cameras": {"front": {"topic": "/camera/image_raw"}},
            "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}}}
    return ConvertConfig.model_validate({**data, **changes})


def test_the_flow_writes_the_viewer_and_links_it_when_the_configuration_asks(tmp_path: Path,
                                                                             prefect_server: None) -> None:
    config = config_for(tmp_path, viewer={"enabled": True, "out": str(tmp_path / "viewer")})
    report = rosbag_to_lerobot(config)
    marker = json.loads((tmp_path / "viewer" / "viewer.json").read_text())
    assert marker["episodes"] == report.dataset.episodes and marker["dataset"] == str(report.dataset.root)
    key = artifact_key("viewer", report.dataset.root)
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found and found[0].type == "markdown"  # Prefect keeps a link artifact as markdown
    assert (tmp_path / "viewer" / "index.html").as_uri() in str(found[0].data)
    assert "python -m flows.view_dataset" in str(found[0].description)

    # the pipeline's run report links the same viewer through link_existing_viewer; nothing where there is none
    assert report_links(report.dataset.root, config) == (True, False)


@flow
def report_links(root: Path, config: ConvertConfig) -> tuple[bool, bool]:
    """As the pipeline's report calls it: with the stage's section, and without (the default place is empty)."""
    return link_existing_viewer(root, config), link_existing_viewer(root)
