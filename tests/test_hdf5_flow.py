"""The HDF5 index stage through Prefect: its flow alone, its summary artifact, and convert_all running it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dataprep.hdf5.layout import SUMMARY_NAME
from flows import convert_all, hdf5_index
from tasks.artifacts import artifact_key
from tasks.hdf5 import summary_key
from tests.hdf5_sources import index_config, write_sources
from tests.test_flows import read_artifact


def test_flow_indexes_files_and_records_summary_and_memory(prefect_server: None, tmp_path: Path) -> None:
    files = write_sources(tmp_path)
    (tmp_path / "replay/broken.h5").write_bytes(b"\x00" * 64)
    config = index_config(tmp_path, tmp_path / "index", cache=None)
    report = hdf5_index.hdf5_index(config)
    assert report.counts.samples == 500 and len(report.files) == 5
    (row,) = json.loads(read_artifact(summary_key(config)).data)
    assert (row["files"], row["failed"], row["samples"], row["episodes"]) == (5, 1, 500, report.counts.episodes)
    assert row["bytes_indexed"] == sum(p.stat().st_size for p in files.values()) and row["seconds"] > 0
    memory = json.loads(read_artifact(artifact_key("memory", "hdf5", files["a"].resolve())).data)
    assert memory[0]["rows"] == 300 and memory[0]["peak_rss_mb"] > 0
    listing = read_artifact(artifact_key("hdf5-files", config.output_root.resolve())).data
    assert "broken.h5: unreadable as HDF5" in listing and "| a.h5 | replay | 300 | True |" in listing


def test_convert_all_runs_the_hdf5_stage_from_its_section(prefect_server: None, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_sources(tmp_path)
    pipeline = {"hdf5_index": {"sources": [{"kind": "replay", "paths": [str(tmp_path / "replay")]}],
                               "output_root": str(tmp_path / "index")}}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    assert convert_all.main(["--config", str(tmp_path / "pipeline.yaml")]) == 0
    printed = capsys.readouterr().out
    assert f"HDF5 index at {tmp_path / 'index' / 'index.h5'}" in printed and "500 samples" in printed
    assert hdf5_index.main(["--config", str(tmp_path / "pipeline.yaml")]) == 0
    assert "(0 file(s) scanned, 2 unchanged)" in capsys.readouterr().out
    assert json.loads((tmp_path / "index" / SUMMARY_NAME).read_text())["samples"] == 500


@pytest.mark.parametrize("local", [True, False], ids=["one-off", "prefect"])
def test_a_failed_file_makes_the_stage_an_error_after_writing_the_others(
        prefect_server: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], local: bool) -> None:
    """The same rule as GoPro sequences: the index of the readable files is written, the exit status says 2."""
    write_sources(tmp_path)
    (tmp_path / "replay/broken.h5").write_bytes(b"\x00" * 64)
    pipeline = {"hdf5_index": {"sources": [{"kind": "replay", "paths": [str(tmp_path / "replay")]}],
                               "output_root": str(tmp_path / "index")}}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    assert convert_all.main(["--config", str(tmp_path / "pipeline.yaml"), *(["--local"] if local else [])]) == 2
    err = capsys.readouterr().err
    assert "error: hdf5_index: HDF5 index at" in err and "500 samples" in err, err
    assert "FAILED" in err and "broken.h5" in err and "1 file(s) failed (see above)" in err
    assert json.loads((tmp_path / "index" / SUMMARY_NAME).read_text())["samples"] == 500
