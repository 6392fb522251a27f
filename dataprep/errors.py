"""The one exception family of the library.

Every error a user can cause (bad config, missing bag, unknown topic or field, malformed message) derives
from `DataprepError`, so flows and the CLI can report it as a clear message instead of a traceback.
`RunError` is the one kind that concerns the whole run rather than one unit of work (a bag, a sequence, a
file): the output cannot be written, the disk is full. Stages stop at the first one instead of failing every
remaining unit with the same cause.
"""

from __future__ import annotations


class DataprepError(Exception):
    """A problem with the user's input or data; the message names the file, topic or field.

    `retryable` is True only where a second attempt can succeed (a transient I/O fault): tasks retry those
    and nothing else.
    """

    retryable: bool = False


class RunError(DataprepError):
    """The whole run cannot go on (output not writable, disk full); the message names the path and the fix."""


class TransientError(DataprepError):
    """A unit of work failed on a fault that may pass (an I/O error on a network disk): worth one retry."""

    retryable = True
