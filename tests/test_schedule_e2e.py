"""docs/scheduled-runs.md end to end on loopback, as a soak: every command it lists, run in order, and a crash.

A real server started with `python -m deployments.server start` (its own PREFECT_HOME, a free port,
telemetry left on as a new user has it), the process pool, `prefect deploy` of deployments/prefect.yaml, a
real process worker; four runs of `convert_all/nightly` into one dataset, a new bag before each; the worker and
its run SIGKILLed in the middle of the fourth run's bag (a host going down), a new worker, the killed run marked
Crashed by the crash watch within the documented time, a fifth run completing; `/api/health` after every step
and no error in the server's log; the dataset holds every bag once and validates. The first run's flow run,
task runs, artifacts and logs are read back over the REST API, and the UI's run page is screenshotted with
scripts/ui_screenshot.py. Every process started here is stopped by its PID. One server start for the module,
run in a thread from the session's start (tests/background_setup.py) so that its waiting overlaps other tests.
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
import threading
import time
import urllib.request
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest

from dataprep.lerobot.commit_record import CommitRecord
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from dataprep.validate import validate_dataset
from flows.deployment_specs import load_specs
from tests.background_setup import BackgroundSetup, SetupCancelledError

PROJECT = Path(__file__).resolve().parents[1]
RECIPE = PROJECT / "docs" / "scheduled-runs.md"
TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
CRASH_WITHIN_S = 150  # docs/scheduled-runs.md: Crashed 60-100 s after the kill; a margin for a loaded machine
BAG = {"width": 64, "height": 48}  # every bag of the dataset has the same features


class Stack(NamedTuple):
    api: str
    flow_run_id: str  # the first run
    run_ids: tuple[str, ...]  # every run, in order; the fourth was killed
    out: Path
    tmp: Path
    env: dict[str, str]
    crashed_after_s: float


def recipe_commands() -> list[str]:
    """The command lines of the recipe's first two code blocks (start, then stop), comments cut, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", RECIPE.read_text(), re.S)[:2]
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("prefect ", "python -m deployments.server"))]


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


def wait_until(check: Any, timeout_s: float, what: str, cancelled: threading.Event | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cancelled is not None and cancelled.is_set():
            raise SetupCancelledError(f"the session ended while waiting for {what}")
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


def argv_of(command: str, port: str) -> list[str]:
    argv = shlex.split(command)
    argv = argv[2:] if argv[:2] == ["python", "-m"] else argv
    if argv[:2] == ["deployments.server", "start"]:
        argv += ["--port", port]
    return [*PYTHON_WITH_SIGINT, "-m", *argv]


def state_of(api: str, run_id: str) -> str:
    return str(request(f"{api}/flow_runs/{run_id}")["state_type"])


def healthy(api: str) -> None:
    assert request(f"{api}/health") is True, "the server stopped answering /api/health"


class Soak:
    """The processes of one soak and the steps it takes; `close` stops every one it started, by PID."""

    def __init__(self, tmp: Path, port: str, cancelled: threading.Event) -> None:
        self.tmp, self.port, self.cancelled = tmp, port, cancelled
        self.api = f"http://127.0.0.1:{port}/api"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
        self.env.update(PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_WORKER_QUERY_SECONDS="1",
                        PREFECT_WORKER_PREFETCH_SECONDS="1", PYTHONPATH=str(PROJECT))
        self.workers: list[subprocess.Popen[bytes]] = []
        self.server_pid: int | None = None
        self.bags, self.out = tmp / "bags", tmp / "out"
        self.started, self.steps = time.monotonic(), tmp / "steps.txt"

    def step(self, what: str) -> None:
        """How long each step took (the soak's cost on this machine), in steps.txt beside the logs."""
        with self.steps.open("a") as out:
            out.write(f"{time.monotonic() - self.started:7.1f} s  {what}\n")

    def run(self, command: str, extra: list[str] | None = None) -> str:
        done = subprocess.run([*argv_of(command, self.port), *(extra or [])], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=240, check=False)
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start_worker(self, command: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        worker = subprocess.Popen(argv_of(command, self.port), cwd=PROJECT, env=self.env, stdout=log,
                                  stderr=subprocess.STDOUT)
        self.workers.append(worker)
        return worker

    def deployment_run(self, command: str) -> str:
        overrides = [f"rosbag_to_lerobot.input.bags={self.bags}", f"rosbag_to_lerobot.output_root={self.out}"]
        printed = self.run(command, ["--params", json.dumps({"overrides": overrides})])
        found = re.search(r"UUID: ([0-9a-f-]{36})", printed)
        assert found, printed
        return found.group(1)

    def wait_final(self, run_id: str, timeout_s: float = 240) -> str:
        return str(wait_until(lambda: (s := state_of(self.api, run_id)) in TERMINAL and s, timeout_s, f"run {run_id}",
                              self.cancelled))

    def close(self, stop_command: str) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        subprocess.run(argv_of(stop_command, self.port), cwd=PROJECT, env=self.env, capture_output=True,
                       timeout=60, check=False)
        if self.server_pid is not None:  # the stop command signalled it; make sure, by its PID
            stop(self.server_pid)
            assert not alive(self.server_pid), "the server this test started is still running"
        assert all(w.returncode is not None for w in self.workers), "a worker this test started is still running"


def kill_worker_and_its_run(worker: subprocess.Popen[bytes]) -> None:
    """What a host going down does: the worker and the run process it started (its own session) die at once."""
    victims = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    worker.wait()


def soak(tmp_path_factory: pytest.TempPathFactory, cancelled: threading.Event) -> Generator[Stack, None, None]:
    """The soak, up to the fifth run's end; after the yield, every process it started is stopped."""
    tmp = tmp_path_factory.mktemp("schedule")
    soak = Soak(tmp, free_port(), cancelled)
    commands = recipe_commands()
    assert [c.split()[:3] for c in commands] == [
        ["python", "-m", "deployments.server"], ["prefect", "work-pool", "create"], ["prefect", "deploy", "--prefect-file"],
        ["prefect", "worker", "start"], ["prefect", "deployment", "run"], ["python", "-m", "deployments.server"]]
    start, pool, deploy, worker_cmd, run_cmd, stop_cmd = commands
    try:
        printed = soak.run(start)
        soak.step("server started")
        assert "the Prefect server is running" in printed and "crash watch: installed" in printed, printed
        soak.server_pid = int(re.search(r"pid (\d+)", printed).group(1))  # type: ignore[union-attr]
        healthy(soak.api)
        assert "already running" in soak.run(start)  # a second start says so and changes nothing
        for command in (pool, deploy):
            soak.run(command)
            healthy(soak.api)
        soak.step("pool created, deployments deployed")
        worker = soak.start_worker(worker_cmd)
        run_ids: list[str] = []
        for number in (1, 2, 3):  # three runs, each with one new bag
            write_kuavo_bag(soak.bags / f"b{number}.bag", KuavoBagSpec(duration_s=8.0 if number == 1 else 3.0, **BAG))
            run_ids.append(soak.deployment_run(run_cmd))
            assert soak.wait_final(run_ids[-1]) == "COMPLETED", run_ids[-1]
            healthy(soak.api)
            soak.step(f"run {number} completed")
        write_kuavo_bag(soak.bags / "b4.bag", KuavoBagSpec(duration_s=120.0, **BAG))  # long enough to kill mid-bag
        run_ids.append(soak.deployment_run(run_cmd))
        staged = soak.out / ".staging/local/kuavo_sample"
        wait_until(lambda: any(staged.glob("b4_bag-*/episode-*")), 180, "the fourth run to start on b4.bag", cancelled)
        assert state_of(soak.api, run_ids[-1]) == "RUNNING"
        kill_worker_and_its_run(worker)
        killed_at = time.monotonic()
        soak.step("worker and run 4 killed mid-bag")
        healthy(soak.api)
        soak.start_worker(worker_cmd)
        write_kuavo_bag(soak.bags / "b5.bag", KuavoBagSpec(duration_s=3.0, **BAG))
        run_ids.append(soak.deployment_run(run_cmd))  # waits in SCHEDULED behind the killed run until it is Crashed
        assert soak.wait_final(run_ids[3], CRASH_WITHIN_S) == "CRASHED"
        crashed_after = time.monotonic() - killed_at
        healthy(soak.api)
        soak.step(f"run 4 Crashed, {crashed_after:.0f} s after the kill")
        assert soak.wait_final(run_ids[4]) == "COMPLETED", run_ids[4]
        healthy(soak.api)
        soak.step("run 5 completed")
        yield Stack(soak.api, run_ids[0], tuple(run_ids), soak.out, tmp, soak.env, crashed_after)
    finally:
        soak.close(stop_cmd)


# Started by tests/conftest.py as the session starts: most of the soak is waiting, which the rest of the suite
# fills (it used to add ~3 minutes to the suite's wall time run in line).
BACKGROUND = BackgroundSetup(soak)


@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield BACKGROUND.wait(tmp_path_factory, timeout_s=1200)
    BACKGROUND.close()


# Prefect's own SQLite contention, not something we call: the server upserts a worker's heartbeat in a
# deferred transaction, and on a loaded machine SQLite refuses it at once ("database is locked", no busy wait
# applies); the worker's next heartbeat goes through. Seen 3 times in a 5-minute soak at load 9 on 2 cores.
TOLERATED = (("Worker channel heartbeat persistence failed", "database is locked"),)
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \| ")


def server_errors(log: str) -> list[str]:
    """Each ERROR record of the server's log with its traceback, less the TOLERATED ones."""
    blocks: list[list[str]] = []
    for line in log.splitlines():
        if LOG_LINE.match(line) or line.startswith("--- "):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    errors = ["\n".join(b) for b in blocks if " | ERROR " in b[0] or any("Traceback" in line for line in b)]
    return [e for e in errors if not any(all(part in e for part in parts) for parts in TOLERATED)]


def test_the_soak_keeps_the_server_up_crashes_the_killed_run_and_the_next_one_resumes(scheduled_run: Stack) -> None:
    api, runs = scheduled_run.api, scheduled_run.run_ids
    assert [state_of(api, r) for r in runs] == ["COMPLETED"] * 3 + ["CRASHED", "COMPLETED"]
    assert scheduled_run.crashed_after_s < CRASH_WITHIN_S
    killed = request(f"{api}/flow_runs/{runs[3]}")
    assert "No heartbeat for" in killed["state"]["message"], killed["state"]
    root = scheduled_run.out / "local/kuavo_sample"
    commit = CommitRecord.load(root)
    assert commit is not None
    sources = sorted(Path(source.path).name for source in commit.sources)
    assert sources == ["b1.bag", "b2.bag", "b3.bag", "b4.bag", "b5.bag"], commit  # every bag, once
    report = validate_dataset(root)
    assert report.ok and report.episodes == 5, report.table()
    errors = server_errors((scheduled_run.tmp / "prefect-home/logs/server.log").read_text(errors="replace"))
    assert not errors, "\n\n".join(errors[:5])
    last = {a["key"]: a for a in request(f"{api}/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [runs[4]]}}})}
    text = last["report-default"]["data"]
    assert "2 converted, 3 skipped, 0 failed" in text and "| b4.bag | converted |" in text, text


def test_a_scheduled_deployment_runs_through_a_worker_and_reads_back_over_rest(scheduled_run: Stack) -> None:
    api, run_id = scheduled_run.api, scheduled_run.flow_run_id
    run = request(f"{api}/flow_runs/{run_id}")
    assert run["state_type"] == "COMPLETED", run["state"]
    assert re.match(r"default\.yaml \d{4}-\d\d-\d\d \d\d:\d\d input\.bags=", run["name"]), run["name"]
    deployment = request(f"{api}/deployments/{run['deployment_id']}")
    assert deployment["name"] == "nightly" and deployment["global_concurrency_limit"]["limit"] == 1
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]

    subflows = request(f"{api}/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})
    assert len(subflows) == 1 and subflows[0]["name"].startswith("local/kuavo_sample <- bags 20")
    tasks = request(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": [subflows[0]["id"]]}}})
    names = sorted(re.sub(r"-[0-9a-f]{3}$", "", t["name"]) for t in tasks)  # Prefect's suffix when unnamed
    assert names == ["convert-bags-0", "finalize-dataset", "plan-conversion", "validate-dataset"]
    assert all(t["state_type"] == "COMPLETED" for t in tasks)
    (bags_run,) = request(f"{api}/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [subflows[0]["id"]]}}})
    bag_tasks = request(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": [bags_run["id"]]}}})
    assert [t["name"] for t in bag_tasks] == ["convert-b1.bag"] and bag_tasks[0]["state_type"] == "COMPLETED"

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
    memory = json.loads(next(a for k, a in sub.items() if k.startswith(f"memory-{stem}-b1-bag"))["data"])
    assert memory[0]["event"] == "start" and memory[-1]["event"] == "end" and len(memory) >= 3
    assert any(k.startswith(f"progress-{stem}-b1-bag") and a["data"] == 100 for k, a in sub.items())

    def info_lines() -> list[str]:  # the run's process sends its last log batch as it exits, after COMPLETED
        logs = request(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
        lines = [entry["message"] for entry in logs if entry["level"] == 20]
        return lines if any(m.startswith("stage rosbag_to_lerobot: output at") for m in lines) else []

    messages = wait_until(info_lines, 30, "the run's INFO logs")
    assert "stage rosbag_to_lerobot: starting" in messages
    assert any(m.startswith(f"stage rosbag_to_lerobot: output at {root}") for m in messages), messages


def screenshot(args: list[str]) -> str:
    script = subprocess.Popen([sys.executable, "scripts/ui_screenshot.py", "--timeout", "180", *args],
                              cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed, _ = script.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        script.terminate()  # SIGTERM: the script stops its Chromium before it exits (SIGKILL would orphan it)
        printed, _ = script.communicate(timeout=60)
    assert script.returncode == 0, printed
    return printed


def test_the_ui_shows_the_run_report_on_the_top_level_run_in_chromium(chromium: str, scheduled_run: Stack) -> None:
    ui, run_id = scheduled_run.api.removesuffix("/api"), scheduled_run.run_ids[-1]
    artifacts = request(f"{scheduled_run.api}/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    report = next(a for a in artifacts if a["key"] == "report-default")
    shot = scheduled_run.tmp / "ui-report.png"
    screenshot(["--ui", ui, "--artifact", report["id"], "--out", str(shot), "--expect", "Run report: default.yaml",
                "--expect", "b4.bag", "--expect", "Validation", "--expect", "peak RSS"])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    tab = scheduled_run.tmp / "ui-artifacts.png"
    screenshot(["--ui", ui, "--flow-run", run_id, "--out", str(tab), "--expect", "report-default",
                "--expect", report["description"], "--expect", "summary-rosbag-to-lerobot"])
    assert tab.stat().st_size > 20_000


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
        specs = {spec.name: spec.flow.name for spec in load_specs()}  # every entry of prefect.yaml
        assert {"nightly", "rosbag_to_lerobot"} <= set(specs)
        missing = [f"{flow}/{name}" for name, flow in specs.items() if f"{flow}/{name}" not in text]
        assert not missing, text
        deployments = {d["name"] for d in request(f"{scheduled_run.api}/deployments/filter", {})}
        assert set(specs) <= deployments
    finally:
        stop(served.pid)
        served.wait(timeout=30)
    assert served.returncode is not None and not alive(served.pid)
