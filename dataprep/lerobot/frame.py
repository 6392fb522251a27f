"""The records one frame travels in: from the feature mapper into the episode writer, and on to its row.

`Frame` is what a producer (the ROS feature mapper, a test, a bench) hands `EpisodeWriter.write`: its place
in the episode, its timestamp, and the arrays. `ReadyRow` is what the camera sinks hand back once a frame's
cameras are stored (queued on an encoder, or PNG-encoded in image mode): the row the parquet gets, without
the images. Both are NamedTuples: immutable, and the cheapest record Python makes (~1.5 us, against ~3 us for
a frozen dataclass), which matters little beside a frame's decode but is made once or twice per frame.
A NamedTuple's field may not be called `index` (tuple has that method), so both say `frame_index`, lerobot's
name for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np


class Frame(NamedTuple):
    """One frame of an episode: vectors by feature key (1-D), images by camera key ((h, w, 3) RGB uint8,
    or (h, w, 1) uint16 for a depth camera)."""

    frame_index: int  # position in the episode, 0, 1, 2, ...
    timestamp: float  # seconds since the episode's first frame; lerobot requires exactly index / fps
    vectors: Mapping[str, np.ndarray]
    images: Mapping[str, np.ndarray]

    @classmethod
    def at(cls, index: int, fps: int, vectors: Mapping[str, np.ndarray],
           images: Mapping[str, np.ndarray]) -> Frame:
        """The frame at `index` of an episode recorded at `fps`, with lerobot's timestamp."""
        return cls(index, index / fps, vectors, images)


class ReadyRow(NamedTuple):
    """A frame whose cameras are stored: what its parquet row holds (PNG cells only in image mode)."""

    frame_index: int
    timestamp: float
    values: Mapping[str, np.ndarray]  # the vectors in their schema dtypes
    pngs: dict[str, bytes]  # camera key -> PNG bytes; empty in video mode
