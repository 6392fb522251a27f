"""A local Prefect server that stays up: `python -m deployments.server start|stop|status|wait [--host H] [--port P]`.

Why not `prefect server start --background`: it keeps the server's stdout and stderr on pipes to the command
that exits a moment later, so the first line the server logs (on a host without internet: "Failed to send
telemetry") kills it, about 15 s after start; its PID file then outlives it and the next start says "already
running". Here the server runs as `prefect server start` (foreground) in its own session, detached, with its
output appended to a log file (`$PREFECT_HOME/logs/server.log`), so a logged error is only a line in that file.

`start` also sets what an offline host needs, in the server's environment and the active Prefect profile
(the worker and every CLI read it from there): the API URL, no server analytics, no client analytics
(`DO_NOT_TRACK`), and installs the crash watch (deployments/crash_watch.py). Starting twice says the server is
running and where; starting after a crash says the old one is gone, shows its log's last lines and starts anew.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

HOST, PORT = "127.0.0.1", 4200
STARTUP_S = 120.0  # a fresh home migrates its database first: 15 s here, more on a loaded machine
# What an offline host needs, for the server and for everything that talks to it (set in the profile too).
OFFLINE_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class ServerRecord(NamedTuple):
    """What `start` wrote: enough for `stop` and `status` to find the process and its log."""

    pid: int
    url: str
    log: str


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def pid_file() -> Path:
    return prefect_home() / "dataprep-server.json"


def server_log() -> Path:
    return prefect_home() / "logs" / "server.log"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as reply:
            return bool(json.load(reply))
    except (OSError, ValueError):
        return False


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def read_record() -> ServerRecord | None:
    try:
        return ServerRecord(**json.loads(pid_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text)


def set_profile(url: str) -> None:
    """The API URL and the offline settings in the active profile, as `prefect config set` writes them."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ANALYTICS_ENABLED, update_current_profile

    update_current_profile({PREFECT_API_URL: url, PREFECT_SERVER_ANALYTICS_ENABLED: False})


def _clean_prefects_own_pid_file() -> str:
    """`prefect server start --background` leaves `server.pid` behind when its server dies: a stale one makes
    its next start refuse. Removed when its process is gone; a live one is reported."""
    own = prefect_home() / "server.pid"
    try:
        pid = int(own.read_text())
    except (OSError, ValueError):
        return ""
    if alive(pid):
        raise SystemExit(f"a server started by `prefect server start --background` is running (pid {pid}); "
                         "stop it with `prefect server stop`, then run this again")
    own.unlink(missing_ok=True)
    return f"removed {own}, left by a `prefect server start --background` whose server died (pid {pid})\n"


def start(host: str, port: int) -> str:
    url = f"http://{host}:{port}/api"
    notes = ""
    record = read_record()
    if record is not None and alive(record.pid):
        state = "answering" if healthy(record.url) else "not answering yet (starting, or stuck: see its log)"
        return (f"the server is already running: pid {record.pid}, {record.url}, {state}; log {record.log}\n"
                "to restart it: python -m deployments.server stop && python -m deployments.server start")
    if record is not None:
        notes += (f"the server started earlier (pid {record.pid}) is not running: it crashed or the host "
                  f"restarted. The last lines of its log {record.log}:\n{tail(Path(record.log))}\n"
                  "starting a new one (runs it left Running are marked Crashed by the crash watch)\n")
        pid_file().unlink(missing_ok=True)
    notes += _clean_prefects_own_pid_file()
    if port_in_use(host, port):
        what = "a Prefect server not started by this command" if healthy(url) else "another program"
        raise SystemExit(f"{host}:{port} is taken by {what}; stop it, or start on another port (--port)")
    log = server_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **OFFLINE_ENV, "PREFECT_UI_API_URL": url}  # the UI's pages call the API at this address
    command = [sys.executable, "-c", ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                                      "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"),
               "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    # SIGINT reset before exec: started from a script, it would be ignored, and Prefect stops on SIGINT.
    with log.open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} python -m deployments.server start\n".encode())
        out.flush()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)  # no terminal, no pipes: nothing to lose
    pid_file().write_text(json.dumps(ServerRecord(process.pid, url, str(log))._asdict()))
    deadline = time.monotonic() + STARTUP_S
    while not healthy(url):
        if process.poll() is not None:
            pid_file().unlink(missing_ok=True)
            raise SystemExit(f"the server exited with status {process.returncode} while starting; the last lines "
                             f"of {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the server (pid {process.pid}) did not answer {url}/health within {STARTUP_S:.0f} s; "
                             f"see {log}; stop it with `python -m deployments.server stop`")
        time.sleep(0.5)
    set_profile(url)
    from deployments.crash_watch import ensure_crash_watch

    watch = ensure_crash_watch(url)
    return (f"{notes}the Prefect server is running: pid {process.pid}, UI {url.removesuffix('/api')}, log {log}\n"
            f"set in the active profile: PREFECT_API_URL={url}, PREFECT_SERVER_ANALYTICS_ENABLED=false\n"
            f"{watch}\nstop it with `python -m deployments.server stop`")


def stop(timeout_s: float = 30.0) -> str:
    record = read_record()
    if record is None:
        return f"no server started by `python -m deployments.server start` ({pid_file()} is absent)"
    pid_file().unlink(missing_ok=True)
    if not alive(record.pid):
        return f"the server (pid {record.pid}) was not running (crashed, or the host restarted); record removed"
    os.killpg(record.pid, signal.SIGTERM)  # its own session: the group is the server and what it started
    deadline = time.monotonic() + timeout_s
    while alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(record.pid):
        os.killpg(record.pid, signal.SIGKILL)
        return f"the server (pid {record.pid}) did not stop within {timeout_s:.0f} s: killed"
    return f"the server (pid {record.pid}) stopped"


def status() -> tuple[str, int]:
    record = read_record()
    if record is None:
        return "no server started by `python -m deployments.server start`", 3
    if not alive(record.pid):
        return (f"the server (pid {record.pid}) is not running: it crashed or the host restarted; last lines of "
                f"{record.log}:\n{tail(Path(record.log))}\nstart it again: python -m deployments.server start"), 1
    answer = "answering" if healthy(record.url) else "NOT answering (see its log)"
    return f"the server is running: pid {record.pid}, {record.url} {answer}; log {record.log}", 0


def wait(host: str, port: int, timeout_s: float = STARTUP_S) -> tuple[str, int]:
    """Until the server at host:port answers (for a service that needs it, e.g. the worker's unit)."""
    url = f"http://{host}:{port}/api"
    deadline = time.monotonic() + timeout_s
    while not healthy(url):
        if time.monotonic() > deadline:
            return f"no Prefect server answered {url}/health within {timeout_s:.0f} s", 1
        time.sleep(1.0)
    return f"the Prefect server at {url} answers", 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "status", "wait"),
                        help="wait: until the server at --host/--port answers (for services started after it)")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    if args.action == "start":
        print(start(args.host, args.port))
        return 0
    if args.action == "stop":
        print(stop())
        return 0
    text, code = status() if args.action == "status" else wait(args.host, args.port)
    print(text)
    return code



if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # one line, as every command of ours (flows/cli.py)
        print("interrupted: python -m deployments.server stopped by Ctrl-C; the server, if it was starting, keeps "
              "starting: see `python -m deployments.server status`", file=sys.stderr)
        sys.exit(130)
