"""Serve a written viewer on loopback, with HTTP Range requests (the standard library's server has none).

A browser seeks inside an mp4 by asking for byte ranges; a server that always answers the whole file makes
Chromium unable to seek (currentTime jumps back to 0), and a packed mp4 holds many episodes, so seeking is the
normal case here. The handler answers `Range: bytes=a-b` (also `a-` and `-n`) with 206 and the slice,
streamed in blocks, and 416 for a range outside the file.
"""

from __future__ import annotations

import logging
import re
import shutil
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_BLOCK = 1 << 16


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges; quiet (requests go to the log, not the console)."""

    _left: int | None = None  # bytes of the range still to send

    def send_head(self) -> Any:
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return super().send_head()
        match = _RANGE.match(header.strip())
        size = path.stat().st_size
        if not match or match.groups() == ("", ""):
            return super().send_head()
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        handle = path.open("rb")  # closed by the base class after copyfile
        handle.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._left = end - start + 1
        return handle

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        left = self._left
        if left is None:
            shutil.copyfileobj(source, outputfile)
            return
        self._left = None
        while left > 0 and (block := source.read(min(_BLOCK, left))):
            outputfile.write(block)
            left -= len(block)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)


def make_server(folder: Path, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server for `folder` on loopback (port 0: one the system picks); run it with `serve_forever()`."""
    handler = partial(RangeRequestHandler, directory=str(folder))
    return ThreadingHTTPServer((host, port), handler)
