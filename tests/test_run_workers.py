"""Bag workers die with their run however it ends, and never write a bag without holding its claim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from dataprep.config import ConvertConfig
from dataprep.conversion import bag_claim_path, convert_dataset, staging_root
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.stages import unit_claim
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


def kill_mid_bag(config: ConvertConfig, tmp_path: Path) -> None:
    """Run `python -m flows.convert_all --local` on `config` in its own process group, SIGKILL it once a worker
    writes a bag, and check that within 5 s no process of it is left."""
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"rosbag_to_lerobot": config.model_dump(mode="json")}))
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.Popen([sys.executable, "-m", "flows.convert_all", "--local", "--config", str(pipeline)],
                           cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        staging = staging_root(config.model_copy(update={"output_root": config.output_root.absolute()}))
        while not (staging.is_dir() and any(staging.iterdir())):  # a worker is writing a bag
            assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.stderr else ""
            time.sleep(0.05)
        workers = psutil.Process(run.pid).children(recursive=True)
        assert len(run_group(run.pid)) >= 3, "the run and two workers at least"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        deadline = time.monotonic() + 5
        while (left := run_group(run.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"still running after 5 s: {[(p.pid, p.name()) for p in left]}"
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)
    finally:
        for process in run_group(run.pid):
            process.kill()
    assert not (config.dataset_root / "meta/info.json").exists()  # killed before assembly


def test_a_two_worker_run_killed_mid_bag_leaves_no_process_and_the_rerun_gives_the_clean_dataset(
        bags: Path, tmp_path: Path) -> None:
    config = kuavo_config(bags, tmp_path / "killed", "max_workers=2")
    kill_mid_bag(config, tmp_path)
    rerun = convert_dataset(config)
    clean = convert_dataset(kuavo_config(bags, tmp_path / "clean", "max_workers=2"))
    assert rerun.dataset.episodes == 4 and dataset_content(rerun.dataset.root) == dataset_content(clean.dataset.root)


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
