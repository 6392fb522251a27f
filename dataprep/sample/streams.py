"""Merging per-topic message generators into one time-ordered stream, for the bag writers."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator


def _tagged(index: int, stream: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, int, bytes]]:
    for t_ns, data in stream:
        yield t_ns, index, data


def merge_by_time(streams: Iterable[Iterable[tuple[int, bytes]]]) -> Iterator[tuple[int, int, bytes]]:
    """(time, stream index, payload) in time order; ties go by stream index, never by comparing payloads.

    Lazy: only one pending message per stream is held, so a long bag is written without sitting in memory.
    """
    return heapq.merge(*(_tagged(index, stream) for index, stream in enumerate(streams)))
