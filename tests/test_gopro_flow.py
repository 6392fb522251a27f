"""The gopro_prepare flow against the real Prefect test server: tasks, artifacts, CLI, convert_all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from gopro_mini import GOPRO_ONLY, SPIKE_ONLY, TEST, TRAIN, build, expected_problems, listing
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from dataprep.gopro.report import REPORT_FILE
from flows import convert_all, gopro_prepare
from tasks.artifacts import artifact_key


def read_artifact(key: str) -> object:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key}"
    return found[0]


def pipeline_file(tmp_path: Path, tree_config: object) -> Path:
    section = json.loads(tree_config.model_dump_json())  # type: ignore[attr-defined]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"gopro_prepare": section}))
    return path


def test_flow_prepares_in_parallel_tasks_and_records_summaries_and_memory(
    prefect_server: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = build(tmp_path, "bitpacked")
    config = pipeline_file(tmp_path, tree.config)

    assert gopro_prepare.main(["--config", str(config), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "dry run: gopro tree at" in printed and "links would be created 15" in printed
    assert f"    create blur/000047.png -> ../../../../raw/gopro/{TRAIN}/blur/000047.png" in printed
    assert not tree.out.exists()

    assert gopro_prepare.main(["--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "2 sequence(s), 5 frame(s) linked, 3 frame(s) left out" in printed
    assert f"{SPIKE_ONLY}: left out: only in spike_root" in printed
    report = json.loads((tree.out / REPORT_FILE).read_text())
    assert report["sequences"][TRAIN]["left_out"] == expected_problems("bitpacked")

    rows = json.loads(read_artifact(artifact_key("gopro", tree.out.resolve(), "train", "summary")).data)
    assert [
        (r["sequence"], r["status"], r["frames"], r["frames_left_out"], r["links_created"]) for r in rows
    ] == [("GOPR0372_07_00", "ok", 2, 3, 6), ("GOPR0374_11_00", "left out: only in gopro_root", 0, 0, 0)]
    assert json.loads(read_artifact(artifact_key("gopro", tree.out.resolve(), "test", "summary")).data)[0]["frames"] == 3
    for name in (TRAIN, TEST, GOPRO_ONLY, SPIKE_ONLY):
        split, sequence = name.split("/")
        memory = json.loads(
            read_artifact(artifact_key("memory", "gopro", tree.out.resolve(), split, sequence, "prepare")).data
        )
        assert memory[0]["stage"] == "prepare" and memory[0]["peak_rss_mb"] > 0


def test_convert_all_runs_the_stage_and_names_a_failed_sequence(
    prefect_server: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = build(tmp_path, "bytes", output_root=tmp_path / "failing")  # its own artifact keys
    out = tree.config.output_root
    blocker = out / TRAIN / "spike/000048.dat"
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a link")
    assert convert_all.main(["--config", str(pipeline_file(tmp_path, tree.config))]) == 2
    error = capsys.readouterr().err
    assert (
        f"{TRAIN}: FAILED: 1 real file(s) where links should go, not overwritten: spike/000048.dat" in error
    )
    assert "1 sequence(s) failed" in error
    assert json.loads((out / REPORT_FILE).read_text())["failed_sequences"].keys() == {TRAIN}
    assert f"{TEST}/blur/7.png" in listing(out) and blocker.read_bytes() == b"not a link"
    rows = json.loads(read_artifact(artifact_key("gopro", out.resolve(), "train", "summary")).data)
    assert [(r["sequence"], r["status"]) for r in rows] == [
        ("GOPR0374_11_00", "left out: only in gopro_root"),
        (
            "GOPR0372_07_00",
            ("FAILED: 1 real file(s) where links should go, not overwritten: spike/000048.dat; "
            "move them away and rerun"),
        ),
    ]
