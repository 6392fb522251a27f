"""One-offs: without a configured Prefect server `python -m flows.convert_all` runs without Prefect at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from flows.launch import LOCAL_NOTICE, configured_api_url
from flows.stages import STAGES, report_results, run_stages

PROJECT = Path(__file__).resolve().parents[1]

# Runs `python -m flows.convert_all ARGS` in this process and says whether Prefect got imported.
RUN_MODULE = """
import runpy, sys
sys.argv = ["convert_all", *sys.argv[1:]]
try:
    runpy.run_module("flows.convert_all", run_name="__main__")
except SystemExit as done:
    print("exit", done.code, "prefect imported:", "prefect" in sys.modules)
"""


def pipeline(tmp_path: Path, bags: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"rosbag_to_lerobot:\n  extends: {PROJECT / 'configs/kuavo.yaml'}\n  input: {{bags: {bags}}}\n"
                    f"  output_root: {tmp_path / 'out'}\n  repo_id: test/oneoff\n  task: pick\n")
    return path


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "PREFECT_HOME": str(home)}


def test_configured_api_url_reads_the_environment_then_the_active_profile(tmp_path: Path) -> None:
    assert configured_api_url({"PREFECT_HOME": str(tmp_path)}) is None  # no profile file: temporary server
    (tmp_path / "profiles.toml").write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://prefect.lab:4200/api"\n[profiles.other]\n')
    assert configured_api_url({"PREFECT_HOME": str(tmp_path)}) == "http://prefect.lab:4200/api"
    assert configured_api_url({"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "other"}) is None
    assert configured_api_url({"PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": "http://x/api"}) == "http://x/api"


def test_one_off_without_a_server_runs_without_importing_prefect_and_says_so(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "short.bag", KuavoBagSpec(duration_s=2.0, width=64, height=48))
    done = subprocess.run([sys.executable, "-c", RUN_MODULE, "--config", str(pipeline(tmp_path, str(bag)))],
                          cwd=PROJECT, env=clean_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=120, check=False)
    assert "exit 0 prefect imported: False" in done.stdout, done.stderr
    assert f"dataset test/oneoff at {tmp_path / 'out/test/oneoff'}" in done.stdout
    assert "  validation: " in done.stdout and "checks: OK" in done.stdout  # validated as the flow does
    assert done.stderr.strip() == LOCAL_NOTICE
    home = tmp_path / "home"  # no Prefect database: at most the log file that keeps tracebacks (flows/cli.py)
    assert {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()} <= {"logs/dataprep.log"}


def test_local_run_reports_every_failed_stage_and_keeps_going(tmp_path: Path) -> None:
    config = load_config(PipelineConfig, pipeline(tmp_path, str(tmp_path / "missing.bag")), [])
    results = run_stages(config, {name: stage.run_local for name, stage in STAGES.items()})
    assert isinstance(results["rosbag_to_lerobot"], DataprepError)
    with pytest.raises(DataprepError, match=r"rosbag_to_lerobot: .*missing\.bag"):
        report_results(results, {name: stage.describe_local for name, stage in STAGES.items()})
    with pytest.raises(DataprepError, match=r"unknown stage\(s\) gopro; the stages are rosbag_to_lerobot"):
        run_stages(config, {name: stage.run_local for name, stage in STAGES.items()}, only=["gopro"])


def test_a_stage_error_that_names_its_section_is_not_prefixed_twice() -> None:
    results = {"gopro_prepare": DataprepError("gopro_prepare.gopro_root: folder /x does not exist"),
               "hdf5_index": DataprepError("file /y.h5 is unreadable")}
    with pytest.raises(DataprepError) as raised:
        report_results(results, {})
    assert str(raised.value).splitlines() == ["gopro_prepare.gopro_root: folder /x does not exist",
                                              "hdf5_index: file /y.h5 is unreadable"]
