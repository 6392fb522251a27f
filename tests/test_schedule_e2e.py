"""README "Run it on a schedule", end to end on loopback: every command it lists, run in order.

A real `prefect server` (its own PREFECT_HOME, a free port), the process pool, `prefect deploy` of
deployments/prefect.yaml, a real process worker, one run of `convert_all/nightly`; then the flow run, its task
runs, artifacts and logs are read back over the REST API, and the UI's run page is screenshotted with
scripts/ui_screenshot.py. Every process started here is stopped by its PID. One server start for the module.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

PROJECT = Path(__file__).resolve().parents[1]
README_PORT = "4200"
TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class Stack(NamedTuple):
    api: str
    flow_run_id: str
    out: Path
    tmp: Path


def readme_commands() -> list[str]:
    """The `prefect ...` lines of the README's "Run it on a schedule" section, comments cut, in order."""
    text = (PROJECT / "README.md").read_text()
    section = text[text.index("## Run it on a schedule"):]
    section = section[: section.index("\n## ", 3)]
    lines = [line.split("  #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)
             for line in block.splitlines()]
    return [line for line in lines if line.startswith("prefect ")]


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def request(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"},
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as reply:
        return json.load(reply)


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# Each command starts through this: a test runner started in the background ignores SIGINT, its children
# inherit that, and Prefect turns SIGTERM into SIGINT, so a worker would never stop on SIGTERM. The reset
# survives the exec; doing it in Python after exec (not in preexec_fn) is safe in a process with threads.
PYTHON_WITH_SIGINT = [sys.executable, "-c", ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                      "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(pid: int) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 30 s (not for children: a child that
    exited stays a zombie, alive to os.kill, until waited for)."""
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("schedule")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="1",
               PYTHONPATH=str(PROJECT))
    api = f"http://127.0.0.1:{port}/api"
    out = tmp / "out"
    overrides = [f"rosbag_to_lerobot.input.bags={tmp / 'sample.bag'}", f"rosbag_to_lerobot.output_root={out}"]
    commands = readme_commands()
    assert [c.split()[:2] for c in commands] == [
        ["prefect", "config"], ["prefect", "server"], ["prefect", "work-pool"], ["prefect", "deploy"],
        ["prefect", "worker"], ["prefect", "deployment"], ["prefect", "server"]]
    server_pid: int | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        for command in commands[:-1]:  # the last one stops the server, below
            argv = [*PYTHON_WITH_SIGINT, "-m", *shlex.split(command.replace(README_PORT, port))]
            if command.startswith("prefect worker start"):
                worker = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                continue
            if command.startswith("prefect deployment run"):
                argv += ["--params", json.dumps({"overrides": overrides})]
            done = subprocess.run(argv, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=180,
                                  check=False)
            assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
            if command.startswith("prefect server start"):
                server_pid = int((tmp / "prefect-home" / "server.pid").read_text())
                wait_until(lambda: request(f"{api}/health"), 120, "the server")
            if command.startswith("prefect deployment run"):
                flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", done.stdout)
                assert flow_run_id, done.stdout
        assert flow_run_id is not None
        run_id = flow_run_id.group(1)
        wait_until(lambda: request(f"{api}/flow_runs/{run_id}")["state_type"] in TERMINAL, 240, "the run")
        yield Stack(api, run_id, out, tmp)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        subprocess.run([sys.executable, "-m", "prefect", *shlex.split(commands[-1])[1:]], cwd=PROJECT, env=env,
                       capture_output=True, timeout=60, check=False)
        if server_pid is not None:  # `prefect server stop` signalled it; make sure, by its PID
            stop(server_pid)
            assert not alive(server_pid), "the server this test started is still running"
        assert worker is None or worker.returncode is not None, "the worker this test started is still running"


def test_a_scheduled_deployment_runs_through_a_worker_and_reads_back_over_rest(scheduled_run: Stack) -> None:
    api, run_id = scheduled_run.api, scheduled_run.flow_run_id
    run = request(f"{api}/flow_runs/{run_id}")
    assert run["state_type"] == "COMPLETED", run["state"]
    assert re.match(r"default\.yaml \d{4}-\d\d-\d\d \d\d:\d\d input\.bags=", run["name"]), run["name"]
    deployment = request(f"{api}/deployments/{run['deployment_id']}")
    assert deployment["name"] == "nightly" and deployment["global_concurrency_limit"]["limit"] == 1
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]

    subflows = request(f"{api}/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})
    assert len(subflows) == 1 and subflows[0]["name"].startswith("local/kuavo_sample <- sample.bag 20")
    tasks = request(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": [subflows[0]["id"]]}}})
    names = sorted(re.sub(r"-[0-9a-f]{3}$", "", t["name"]) for t in tasks)  # Prefect's suffix when unnamed
    assert names == ["convert-bags-0", "finalize-dataset", "plan-conversion", "validate-dataset"]
    assert all(t["state_type"] == "COMPLETED" for t in tasks)
    (bags_run,) = request(f"{api}/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [subflows[0]["id"]]}}})
    bag_tasks = request(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": [bags_run["id"]]}}})
    assert [t["name"] for t in bag_tasks] == ["convert-sample.bag"] and bag_tasks[0]["state_type"] == "COMPLETED"

    root = scheduled_run.out / "local/kuavo_sample"
    assert (root / "meta/info.json").is_file()
    top = {a["key"]: a for a in request(f"{api}/artifacts/filter",
                                         {"artifacts": {"flow_run_id": {"any_": [run_id]}}})}
    stem = re.sub(r"[^a-z0-9]+", "-", str(root).lower()).strip("-")
    summary = top[f"summary-rosbag-to-lerobot-{stem}"]["data"]
    assert f"dataset local/kuavo_sample at {root}" in summary and "frames kept" in summary
    assert top[f"output-rosbag-to-lerobot-{stem}"]["data"].startswith(f"[{root}]({root.as_uri()})")
    assert "data:image/jpeg;base64," in top[f"preview-rosbag-to-lerobot-{stem}"]["data"]
    assert any(key.startswith("memory-chart-run-") for key in top)

    sub = {a["key"]: a for a in request(f"{api}/artifacts/filter",
                                         {"artifacts": {"flow_run_id": {"any_": [bags_run["id"]]}}})}
    memory = json.loads(next(a for k, a in sub.items() if k.startswith(f"memory-{stem}-sample-bag"))["data"])
    assert memory[0]["event"] == "start" and memory[-1]["event"] == "end" and len(memory) >= 3
    assert any(k.startswith(f"progress-{stem}-sample-bag") and a["data"] == 100 for k, a in sub.items())

    def info_lines() -> list[str]:  # the run's process sends its last log batch as it exits, after COMPLETED
        logs = request(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
        lines = [entry["message"] for entry in logs if entry["level"] == 20]
        return lines if any(m.startswith("stage rosbag_to_lerobot: output at") for m in lines) else []

    messages = wait_until(info_lines, 30, "the run's INFO logs")
    assert "stage rosbag_to_lerobot: starting" in messages
    assert any(m.startswith(f"stage rosbag_to_lerobot: output at {root}") for m in messages), messages


def test_the_ui_run_page_shows_the_runs_artifacts_in_chromium(chromium: str, scheduled_run: Stack) -> None:
    ui = scheduled_run.api.removesuffix("/api")
    shot = scheduled_run.tmp / "ui.png"
    script = subprocess.Popen([sys.executable, "scripts/ui_screenshot.py", "--ui", ui, "--flow-run",
                               scheduled_run.flow_run_id, "--out", str(shot), "--timeout", "180",
                               "--expect", "summary-rosbag-to-lerobot", "--expect", "output-rosbag-to-lerobot",
                               "--expect", "preview-rosbag-to-lerobot"],
                              cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed, _ = script.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        script.terminate()  # SIGTERM: the script stops its Chromium before it exits (SIGKILL would orphan it)
        printed, _ = script.communicate(timeout=60)
    assert script.returncode == 0, printed
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_serve_py_serves_every_deployment_of_prefect_yaml(scheduled_run: Stack) -> None:
    """README's one-process alternative: `python deployments/serve.py` against the same server, stopped by PID."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(scheduled_run.tmp / "prefect-home"), PREFECT_API_URL=scheduled_run.api,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(PROJECT))
    log = scheduled_run.tmp / "serve.log"
    with log.open("wb") as out:
        served = subprocess.Popen([*PYTHON_WITH_SIGINT, "deployments/serve.py"], cwd=PROJECT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: served.poll() is not None or "being served" in log.read_text(errors="replace"), 180,
                   "serve.py to start serving")
        assert served.poll() is None, log.read_text(errors="replace")
        text = log.read_text(errors="replace")
        served_names = set(re.findall(r"convert_all/([a-z0-9_]+)", text))
        assert served_names == {"nightly", "rosbag_to_lerobot", "gopro_prepare", "hdf5_index"}, text
        deployments = {d["name"] for d in request(f"{scheduled_run.api}/deployments/filter", {})}
        assert served_names <= deployments
    finally:
        stop(served.pid)
        served.wait(timeout=30)
    assert served.returncode is not None and not alive(served.pid)
