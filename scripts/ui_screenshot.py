"""Screenshot a flow run's Artifacts tab in the Prefect UI with headless Chromium, and check what it shows.

    python scripts/ui_screenshot.py --ui http://127.0.0.1:4200 --flow-run <id> --out docs/ui-run-artifacts.png \
        --expect report-default --expect summary-rosbag-to-lerobot
    python scripts/ui_screenshot.py --ui http://127.0.0.1:4200 --artifact <id> --out docs/ui-run-report.png \
        --expect "Run report"

Needs Debian's `chromium` package (`apt-get install chromium`); this script installs nothing. It drives
Chromium over the DevTools protocol (the `websockets` package Prefect already depends on): open the run page and
click its Artifacts tab (or open one artifact's page, `--artifact`), wait until every `--expect` text is on
the page, then save a PNG. Exit status 1 and
the page's text when an expected text never shows up.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect
from websockets.sync.connection import Connection

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CLICK_TAB = """(() => {
  const tab = [...document.querySelectorAll('button, a, [role=tab], li, div')]
    .find(e => e.children.length === 0 && e.textContent.trim() === %s);
  if (tab) { (tab.closest('button, a, [role=tab], li') || tab).click(); return true; }
  return false;
})()"""


class DevTools:
    """The few DevTools calls this script needs, over one page's websocket."""

    def __init__(self, ws: Connection) -> None:
        self.ws, self.next_id = ws, 0

    def call(self, method: str, timeout_s: float = 60.0, **params: Any) -> dict[str, Any]:
        """The reply to one call; events that arrive meanwhile are skipped, but never for longer than `timeout_s`."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no reply from Chromium within {timeout_s:.0f} s")
            reply = json.loads(self.ws.recv(timeout=left))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    raise SystemExit("Chromium not found: install Debian's package (`apt-get install chromium`) and rerun")


def start_chromium(binary: str, profile: Path, width: int, height: int) -> tuple[subprocess.Popen[str], str]:
    """Chromium with a DevTools port of its choosing; returns the process and the first page's websocket."""
    proc = subprocess.Popen([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             f"--window-size={width},{height}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group: stop() ends the zygote and renderers too
    assert proc.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    # a thread reads stderr, never this one: when Chromium's main process dies at start its zygote keeps the pipe
    # open, and a readline here would wait for it forever (the thread also keeps the pipe drained afterwards)
    def read_lines() -> None:
        for line in proc.stderr or ():
            lines.put(line)

    threading.Thread(target=read_lines, daemon=True).start()
    deadline = time.monotonic() + 30
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        if match := re.search(r"DevTools listening on ws://([^/]+)/", line):
            host = match.group(1)
            break
    else:
        stop(proc)
        raise SystemExit("Chromium did not open its DevTools port within 30 s")
    import urllib.request

    for _ in range(50):
        with urllib.request.urlopen(f"http://{host}/json/list", timeout=5) as reply:
            pages = [p for p in json.load(reply) if p.get("type") == "page"]
        if pages:
            return proc, str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.1)
    stop(proc)
    raise SystemExit("Chromium opened no page")


def stop(proc: subprocess.Popen[str]) -> None:
    """End Chromium and every process it started (a renderer left behind keeps a core busy for minutes)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_for(tools: DevTools, texts: list[str], timeout_s: float, tab: str | None = "Artifacts") -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    body = ""
    while time.monotonic() < deadline:
        if tab:
            tools.evaluate(CLICK_TAB % json.dumps(tab))
        body = str(tools.evaluate("document.body ? document.body.innerText : ''") or "")
        if all(text in body for text in texts) and "Can't connect to Server API" not in body:
            return True, body
        time.sleep(0.5)
    return False, body


def screenshot(url: str, out: Path, expect: list[str], width: int = 1400, height: int = 1500,
               timeout_s: float = 60.0, tab: str | None = "Artifacts") -> str:
    """Save the page at `url` (its `tab` clicked, if any) to `out`; return the page's text."""
    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="ui-screenshot-") as profile:
        proc, ws_url = start_chromium(binary, Path(profile), width, height)
        try:
            with connect(ws_url, max_size=None) as ws:
                tools = DevTools(ws)
                tools.call("Page.enable")
                tools.call("Page.navigate", url=url)
                found, body = wait_for(tools, expect, timeout_s, tab)
                if not found:
                    missing = [text for text in expect if text not in body]
                    raise SystemExit(f"{url} never showed {missing} within {timeout_s:.0f} s; the page said:\n{body}")
                time.sleep(1.0)  # let the cards finish rendering
                png = tools.call("Page.captureScreenshot", format="png")["data"]
        finally:
            stop(proc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(png))
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ui", default="http://127.0.0.1:4200", help="the Prefect UI's address")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--flow-run", help="flow run id: its page's Artifacts tab")
    target.add_argument("--artifact", help="artifact id: its own page (a markdown report in full)")
    parser.add_argument("--out", type=Path, default=Path("docs/ui-run-artifacts.png"))
    parser.add_argument("--expect", action="append", default=[], help="text the page must show (repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the page")
    parser.add_argument("--height", type=int, default=1500, help="window height, pixels")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))  # so Chromium is stopped too
    ui = args.ui.rstrip("/")
    if args.artifact:
        screenshot(f"{ui}/artifacts/artifact/{args.artifact}", args.out, args.expect, height=args.height,
                   timeout_s=args.timeout, tab=None)
    else:
        screenshot(f"{ui}/runs/flow-run/{args.flow_run}", args.out, args.expect, height=args.height,
                   timeout_s=args.timeout)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
