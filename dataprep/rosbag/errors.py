"""Errors raised while finding, opening or decoding bags; each names the bag and, where known, the topic."""

from __future__ import annotations

from dataprep.errors import DataprepError


class BagError(DataprepError):
    """A bag cannot be found, opened or decoded, or lacks what the configuration asks of it."""
