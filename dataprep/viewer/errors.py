"""The viewer's one error: a dataset it cannot read or an output it must not replace; names the path."""

from __future__ import annotations

from dataprep.errors import DataprepError


class ViewerError(DataprepError):
    """The dataset root is missing or not a LeRobot v3.0 dataset, or the output folder is not a viewer."""
