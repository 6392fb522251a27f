"""Bag workers die with their run however it ends, and never write a bag without holding its claim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.conversion.stage import bag_claim_path
from dataprep.conversion.staging import staging_root
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.stages.claim import unit_claim
from tests.parallel_helpers import PROJECT, dataset_content, kuavo_config


def run_group(pgid: int) -> list[psutil.Process]:
    """Every live (not zombie) process of the process group `pgid`: the run and whatever it started."""
    alive = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bags")
    for i, seconds in enumerate((3.0, 2.5, 2.0, 1.5)):
        write_kuavo_bag(folder / f"bag_{i}.bag", KuavoBagSpec(duration_s=seconds, width=64, height=48))
    return folder


@pytest.fixture(scope="module")
def clean(bags: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dataset a clean run gives (worker counts and runners do not change it, tests/test_parallel.py)."""
    return dataset_content(convert_dataset(kuavo_config(bags, tmp_path_factory.mktemp("clean"))).dataset.root)


def kill_mid_bag(config: ConvertConfig, tmp_path: Path, api_url: str | None = None) -> float:
    """Run `config` in its own process group, SIGKILL it once a worker writes a bag, check that within 5 s no
    process of it is left and return how long that took (s).

    Without `api_url` the run is `python -m flows.convert_all --local` (the library's process pool); with it,
    `python -m flows.rosbag_to_lerobot` through the Prefect server at `api_url`, so `bag_task_runner` picks
    Prefect's process pool or a local Dask cluster (nanny-started worker processes) from the configuration."""
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"rosbag_to_lerobot": config.model_dump(mode="json")}))
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "flows.convert_all", "--local", "--config", str(pipeline)]
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
        command = [sys.executable, "-m", "flows.rosbag_to_lerobot", "--config", str(pipeline)]
    run = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        staging = staging_root(config.model_copy(update={"output_root": config.output_root.absolute()}))
        while not (staging.is_dir() and any(staging.iterdir())):  # a worker is writing a bag
            assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.stderr else ""
            time.sleep(0.05)
        workers = psutil.Process(run.pid).children(recursive=True)
        assert len(run_group(run.pid)) >= 3, "the run and two workers at least"
        os.kill(run.pid, signal.SIGKILL)
        killed = time.monotonic()
        run.wait(10)
        while (left := run_group(run.pid)) and time.monotonic() < killed + 5:
            time.sleep(0.05)
        gone_after = time.monotonic() - killed
        assert not left, f"still running after 5 s: {[(p.pid, p.name()) for p in left]}"
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)
    finally:
        for process in run_group(run.pid):
            process.kill()
    assert not (config.dataset_root / "meta/info.json").exists()  # killed before assembly
    return gone_after


def test_a_two_worker_run_killed_mid_bag_leaves_no_process_and_the_rerun_gives_the_clean_dataset(
        bags: Path, tmp_path: Path, clean: dict[str, Any]) -> None:
    config = kuavo_config(bags, tmp_path / "killed", "max_workers=2")
    kill_mid_bag(config, tmp_path)
    rerun = convert_dataset(config)
    assert rerun.dataset.episodes == 4 and dataset_content(rerun.dataset.root) == clean


def test_a_worker_finding_a_bag_claimed_waits_for_the_holder_and_says_so(
        bags: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = kuavo_config(bags, tmp_path / "out", f"input.bags={bags / 'bag_3.bag'}")
    claim = bag_claim_path(config.model_copy(update={"output_root": config.output_root.absolute()}),
                           (bags / "bag_3.bag").absolute())
    held, release = threading.Event(), threading.Event()

    def survivor() -> None:  # stands for a killed run's worker still exiting
        with unit_claim(claim, "survivor"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=survivor)
    thread.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    report = convert_dataset(config)
    thread.join()
    assert time.monotonic() - started >= 1.0 and report.dataset.episodes == 1
    assert "is still being written by PID" in caplog.text and "waiting for it" in caplog.text
    assert "let go of it; taking it over" in caplog.text


@pytest.mark.parametrize("runner", ["task_runner.dask.n_workers=2", "max_workers=2"], ids=["dask", "prefect-pool"])
def test_a_prefect_run_with_two_worker_processes_killed_mid_bag_leaves_none_and_the_rerun_gives_the_clean_dataset(
        runner: str, bags: Path, tmp_path: Path, clean: dict[str, Any], prefect_server: None) -> None:
    """A local Dask cluster (its nannies live in the run's process; they spawn one worker process each) and
    Prefect's process pool (spawned workers): the run through the Prefect server, SIGKILLed mid-bag, leaves no
    process. Both end within ~0.1 s even without `bind_to_run` (measured with it disabled: Dask's worker
    processes exit when the nanny's parent-alive pipe closes; Prefect's pool workers end as well), so the
    lifeline's liveness thread is the second guard here, and this test keeps both runners honest."""
    from prefect.settings import PREFECT_API_URL

    config = kuavo_config(bags, tmp_path / "killed", runner)
    print(f"no process left {kill_mid_bag(config, tmp_path, str(PREFECT_API_URL.value())):.2f} s after the kill")
    rerun = convert_dataset(config)
    assert rerun.dataset.episodes == 4 and dataset_content(rerun.dataset.root) == clean
