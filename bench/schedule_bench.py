"""docs/scheduled-runs.md walked from a fresh clone, offline: what each step costs in time and memory.

    python -m bench.schedule_bench [--work /tmp/schedule-bench] [--port 4391]

Clones this repository's HEAD into `--work` (git clone of the local repo: no network), gives it a new
PREFECT_HOME and no PREFECT_* variable (telemetry left as a new user has it), then runs the recipe's commands:
server start, pool, deploy, worker, a deployment run of `convert_all/nightly` on the bundled sample; then the
one-off side by side (`python -m flows.convert_all --local`, and against the server), and the first scheduled
run after the one-off (nothing new). Prints wall time and peak RSS per step (sampled every 0.2 s with psutil,
the process and its children), and the server's and the idle worker's RSS. Stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

PROJECT = Path(__file__).resolve().parents[1]
SIGINT_RESET = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def tree_rss_mb(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6


class PeakSampler:
    """Peak RSS of a process tree, sampled in a thread while a step runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MB of the command's process tree, its stdout."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_RESET, *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakSampler(proc.pid)
    out, _ = proc.communicate(timeout=900)
    peak = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{out}")
    return time.monotonic() - start, peak, out


def api_get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/schedule-bench"))
    parser.add_argument("--port", default="4391")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    clone = args.work / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    env.update(PREFECT_HOME=str(args.work / "home"), PYTHONPATH=str(clone))
    api = f"http://127.0.0.1:{args.port}/api"
    rows: list[tuple[str, float, float]] = []
    worker: subprocess.Popen[str] | None = None
    try:
        wall, peak, out = timed(["-m", "deployments.server", "start", "--port", args.port], clone, env)
        server_pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
        rows.append(("server start (fresh home: migrates the database)", wall, tree_rss_mb(server_pid)))
        for label, argv in (("work-pool create", ["-m", "prefect", "work-pool", "create", "dataprep", "--type",
                                                  "process"]),
                            ("deploy --all", ["-m", "prefect", "deploy", "--prefect-file", "deployments/prefect.yaml",
                                              "--all"])):
            wall, peak, _ = timed(argv, clone, env)
            rows.append((label, wall, peak))
        log = (args.work / "worker.log").open("w")
        worker = subprocess.Popen([sys.executable, "-c", SIGINT_RESET, "-m", "prefect", "worker", "start", "--pool",
                                   "dataprep"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        time.sleep(15)
        rows.append(("worker, idle after 15 s", 0.0, tree_rss_mb(worker.pid)))

        def deployment_run(label: str, overrides: list[str]) -> None:
            start = time.monotonic()
            _, _, out = timed(["-m", "prefect", "deployment", "run", "convert_all/nightly", "--params",
                               json.dumps({"overrides": overrides})], clone, env)
            run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)  # type: ignore[union-attr]
            assert worker is not None
            sampler = PeakSampler(worker.pid)
            while api_get(f"{api}/flow_runs/{run_id}")["state_type"] not in ("COMPLETED", "FAILED", "CRASHED"):
                time.sleep(0.5)
            state = api_get(f"{api}/flow_runs/{run_id}")["state_type"]
            rows.append((f"{label} ({state}; peak: worker + run process)", time.monotonic() - start, sampler.stop()))

        deployment_run("deployment run, converts the sample", [f"rosbag_to_lerobot.output_root={args.work}/sched"])
        wall, peak, _ = timed(["-m", "flows.convert_all", "--local", "--set",
                               f"rosbag_to_lerobot.output_root={args.work}/local"], clone, env)
        rows.append(("one-off --local (no Prefect), converts the sample", wall, peak))
        wall, peak, _ = timed(["-m", "flows.convert_all"], clone, env)
        rows.append(("one-off through the server (README order: into outputs/)", wall, peak))
        deployment_run("first deployment run after that one-off: nothing new", [])
        rows.append(("server after the runs", 0.0, tree_rss_mb(server_pid)))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        subprocess.run([sys.executable, "-m", "deployments.server", "stop"], cwd=clone, env=env, check=False)
    print(f"{'step':64} {'wall s':>7} {'RSS MB':>7}")
    for label, wall, rss in rows:
        print(f"{label:64} {wall:7.1f} {rss:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
