"""`python -m flows.view_dataset ROOT [--out DIR] [--serve [--port N]]`: a static viewer of a LeRobot v3.0 dataset.

Writes an index page of every episode (length, task, quality score and failing reasons, drops by reason) and
one page per episode (every camera playing in sync, vector features plotted with a cursor that follows
playback) into DIR (default `ROOT-viewer` beside the dataset). Open DIR/index.html from the file system, or
pass `--serve` to serve it on loopback (with the Range requests video seeking needs) until Ctrl-C. Any v3.0
dataset opens, lerobot-written ones too; our meta/quality.json is shown when present. Writing reads the
dataset's parquet by batches and links its mp4s, so it starts no Prefect run and re-encodes nothing.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dataprep.viewer import ViewerSummary, make_server, write_viewer
from flows.cli import run_cli


def serve(summary: ViewerSummary, port: int, ready: threading.Event | None = None) -> str:
    """Serve the viewer on 127.0.0.1 until interrupted; `ready` is set once the address is printed."""
    server = make_server(summary.serve_dir, port)
    page = summary.index.relative_to(summary.serve_dir).as_posix()
    print(f"{summary.text().splitlines()[0]}\nserving http://127.0.0.1:{server.server_port}/{page} "
          "(Ctrl-C stops)", flush=True)
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return "stopped serving"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.view_dataset", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, metavar="ROOT", help="the dataset folder (holding meta/info.json)")
    parser.add_argument("--out", type=Path, default=None, help="where the viewer goes (default: ROOT-viewer)")
    parser.add_argument("--serve", action="store_true", help="serve the viewer on 127.0.0.1 after writing it")
    parser.add_argument("--port", type=int, default=8765, help="with --serve: the port (0: any free one)")
    args = parser.parse_args(argv)

    def run() -> str:
        summary = write_viewer(args.root, args.out)
        return serve(summary, args.port) if args.serve else summary.text()

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
