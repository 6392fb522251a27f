"""lerobot's five default features, in one leaf module that imports nothing but the standard library.

Configuration refuses these names in a user's `features` section, and the lerobot writer fills them in; both
read them from here, because importing `dataprep.lerobot` from configuration would load numpy and pyarrow
just to validate a YAML file. `dataprep.lerobot.layout` re-exports `DEFAULT_FEATURES` beside the other
on-disk constants. Values follow lerobot 0.6.1 (`lerobot/datasets/utils.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Columns lerobot adds to every dataset, in their column order, with their dtype; all have shape [1], no names.
DEFAULT_FEATURES: Mapping[str, str] = MappingProxyType(
    {
        "timestamp": "float32",  # frame_index / fps, restarting at 0 in every episode
        "frame_index": "int64",  # position inside the episode
        "episode_index": "int64",  # position of the episode in the dataset
        "index": "int64",  # global frame position, contiguous from 0
        "task_index": "int64",  # row of meta/tasks.parquet
    }
)

# The names alone: a user feature (or a vector or camera key of a schema) may not take one of them.
RESERVED_FEATURES: tuple[str, ...] = tuple(DEFAULT_FEATURES)
