"""The one exception family of the library.

Every error a user can cause (bad config, missing bag, unknown topic or field, malformed message) derives
from `DataprepError`, so flows and the CLI can report it as a clear message instead of a traceback.
"""

from __future__ import annotations


class DataprepError(Exception):
    """A problem with the user's input or data; the message names the file, topic or field."""
