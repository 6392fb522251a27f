"""Ctrl-C on a command: one line saying what stopped and that a rerun resumes, exit status 130, no traceback
on the console (it is in the log file), and the rerun finishes the dataset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from flows.cli import INTERRUPTED, command_name

PROJECT = Path(__file__).resolve().parents[1]
# The test runner may be started in the background (SIGINT ignored, inherited by children): reset it first.
WITH_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def test_command_name_is_the_module_the_user_ran() -> None:
    assert command_name(str(PROJECT / "flows" / "convert_all.py")) == "python -m flows.convert_all"


def test_ctrl_c_prints_one_line_exits_130_and_a_rerun_finishes(tmp_path: Path) -> None:
    bag = write_kuavo_bag(tmp_path / "long.bag", KuavoBagSpec(duration_s=60.0, width=64, height=48))
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PYTHONPATH=str(PROJECT))
    argv = [sys.executable, "-c", WITH_SIGINT, "-m", "flows.convert_all", "--local",
            "--set", f"rosbag_to_lerobot.input.bags={bag}", "--set", f"rosbag_to_lerobot.output_root={tmp_path}/out"]
    run = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = tmp_path / "out"
    deadline = time.monotonic() + 60
    while not any(staging.rglob("*.mp4")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the bag is converting once its first video file is open
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == INTERRUPTED, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted: python -m flows.convert_all stopped by Ctrl-C; run it again to resume")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "KeyboardInterrupt" in (home / "logs" / "dataprep.log").read_text()

    again = subprocess.run(argv, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert "long.bag: " in again.stdout and "validation:" in again.stdout and "OK" in again.stdout


def test_ctrl_c_of_a_run_through_prefect_is_one_line_too(prefect_server: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    bag = write_kuavo_bag(tmp_path / "long.bag", KuavoBagSpec(duration_s=60.0, width=64, height=48))
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PYTHONPATH=str(PROJECT), PREFECT_API_URL=str(PREFECT_API_URL.value()))
    argv = [sys.executable, "-c", WITH_SIGINT, "-m", "flows.convert_all",
            "--set", f"rosbag_to_lerobot.input.bags={bag}", "--set", f"rosbag_to_lerobot.output_root={tmp_path}/out"]
    run = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any((tmp_path / "out").rglob("*.mp4")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == INTERRUPTED, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted: python -m flows.convert_all stopped by Ctrl-C")
