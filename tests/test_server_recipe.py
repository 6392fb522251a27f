"""deployments/server.py and the systemd units, without a server: what start/stop/status say about a server
that is gone, a stale PID file of Prefect's own, and units that name commands that exist. (Starting, starting
twice and stopping a real server: tests/test_schedule_e2e.py.)"""

from __future__ import annotations

import configparser
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deployments import server

PROJECT = Path(__file__).resolve().parents[1]
UNITS = PROJECT / "deployments" / "systemd"


def dead_pid() -> int:
    """The PID of a process that has exited (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    (tmp_path / "logs").mkdir()
    return tmp_path


def test_status_of_a_server_that_crashed_says_so_and_shows_its_log(home: Path) -> None:
    (home / "logs/server.log").write_text("INFO started\nERROR something broke\n")
    server.pid_file().write_text(json.dumps({"pid": dead_pid(), "url": "http://127.0.0.1:1/api",
                                             "log": str(home / "logs/server.log")}))
    text, code = server.status()
    assert code == 1 and "is not running: it crashed or the host restarted" in text
    assert "ERROR something broke" in text and "python -m deployments.server start" in text


def test_stop_of_a_server_that_is_gone_removes_its_record(home: Path) -> None:
    server.pid_file().write_text(json.dumps({"pid": dead_pid(), "url": "u", "log": "l"}))
    assert "was not running" in server.stop()
    assert not server.pid_file().exists()
    assert "no server started by" in server.stop()
    assert server.status()[1] == 3


def test_a_stale_pid_file_of_prefect_server_start_background_is_removed_and_a_live_one_named(home: Path) -> None:
    own = home / "server.pid"
    own.write_text(str(dead_pid()))
    assert "removed" in server._clean_prefects_own_pid_file() and not own.exists()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        own.write_text(str(sleeper.pid))
        with pytest.raises(SystemExit, match="prefect server stop"):
            server._clean_prefects_own_pid_file()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_systemd_units_run_commands_that_exist_with_the_offline_settings() -> None:
    for name in ("dataprep-prefect-server.service", "dataprep-prefect-worker.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
        unit.read(UNITS / name)
        lines = (UNITS / name).read_text().splitlines()  # Environment= repeats: read them as lines
        assert {"Environment=PREFECT_SERVER_ANALYTICS_ENABLED=false", "Environment=DO_NOT_TRACK=1"} <= set(lines)
        assert unit["Service"]["Restart"] == "on-failure" and unit["Install"]["WantedBy"] == "multi-user.target"
    worker = (UNITS / "dataprep-prefect-worker.service").read_text()
    modules = {shlex.split(line.split("=", 1)[1].lstrip("-"))[2] for line in worker.splitlines()
               if line.startswith(("ExecStart=", "ExecStartPre="))}
    assert modules == {"deployments.server", "prefect", "deployments.crash_watch"}
    assert "python -m deployments.server wait" in worker.replace("/opt/dataprep/.venv/bin/", "")


def test_wait_gives_up_naming_the_address_when_no_server_answers() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text, code = server.wait("127.0.0.1", port, timeout_s=1.0)
    assert code == 1 and f"127.0.0.1:{port}/api/health within 1 s" in text


def test_start_after_a_crash_drops_the_old_record_and_names_what_holds_the_port(home: Path) -> None:
    import socket

    server.pid_file().write_text(json.dumps({"pid": dead_pid(), "url": "u", "log": str(home / "logs/server.log")}))
    with socket.socket() as taken:  # not a Prefect server: nothing answers /api/health
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"127\.0\.0\.1:{port} is taken by another program; .*--port"):
            server.start("127.0.0.1", port)
    assert not server.pid_file().exists()
