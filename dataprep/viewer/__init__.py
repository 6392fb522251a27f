"""A static, offline viewer of a LeRobot v3.0 dataset: an index of every episode with its quality, and per
episode its cameras playing in sync with plots of its vector features.

`write_viewer(root, out)` writes it (streaming: one episode in memory at a time, videos referenced, never
re-encoded); `make_server(folder)` serves it on loopback with the Range requests video seeking needs.
"""

from dataprep.viewer.errors import ViewerError
from dataprep.viewer.serve import make_server
from dataprep.viewer.write import ViewerSummary, default_out, read_viewer, write_viewer

__all__ = ["ViewerError", "ViewerSummary", "default_out", "make_server", "read_viewer", "write_viewer"]
