"""Finding the bags a configuration names.

A user points at a folder of recordings, a glob, single files or rosbag2 folders; ROS1 bags are `.bag` files,
ROS2 bags are folders holding `metadata.yaml` (or a bare `.mcap`/`.db3` file). The walk itself is the one
every stage shares (`dataprep.storage.inputs`): only regular files and rosbag2 folders are opened, anything
else named like a bag is rejected with its reason and becomes that bag's failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from dataprep.rosbag.errors import BagError
from dataprep.storage.inputs import Expansion, InputKind, entry_kind, expand_inputs

ROS2_STORAGE_SUFFIXES = (".mcap", ".db3")
UNINDEXED_ROS1_SUFFIX = ".bag.active"  # what `rosbag record` leaves when cut off, or while still recording
ROS2_METADATA = "metadata.yaml"
EXPECTED = ".bag files, rosbag2 folders, .mcap or .db3 files"


def is_ros1(path: Path) -> bool:
    return path.suffix == ".bag" or path.name.endswith(UNINDEXED_ROS1_SUFFIX)


def _named_like_a_bag(name: str) -> bool:
    """Unindexed recordings are listed, not skipped, so they fail loudly instead of vanishing from a dataset."""
    path = Path(name)
    return is_ros1(path) or path.suffix in ROS2_STORAGE_SUFFIXES


def _rosbag2_folder(folder: Path) -> Literal["unit"] | str | None:
    """A folder with a regular `metadata.yaml` is one bag; one whose metadata.yaml is anything else is broken."""
    metadata = folder / ROS2_METADATA
    if not metadata.exists() and not metadata.is_symlink():
        return None
    what = entry_kind(metadata)
    if what == "file":
        return "unit"
    if what == "folder":
        what = "a folder"
    return f"a broken rosbag2 folder: its {ROS2_METADATA} is {what}"


BAGS = InputKind("bag", _named_like_a_bag, _rosbag2_folder, EXPECTED, BagError, "bag path")


def is_bag(path: Path) -> bool:
    """True for a ROS1 `.bag` (or unindexed `.bag.active`) file, a rosbag2 folder or storage file."""
    if path.is_dir():
        return _rosbag2_folder(path) == "unit"
    return _named_like_a_bag(path.name)


def expand_bags(patterns: Iterable[str]) -> Expansion:
    """Files, folders and glob patterns -> the bags to open (sorted, distinct, normalised) and the paths
    rejected with their reasons (a FIFO named `x.bag`, a symlink loop, an empty folder named `x.bag`...).

    Raises BagError naming a pattern that is a URL, does not exist or matches nothing, so a typo never yields
    an empty dataset.
    """
    return expand_inputs(patterns, BAGS)


def find_bags(patterns: Iterable[str]) -> list[Path]:
    """The bags `expand_bags` would open (rejected paths left out: the stages report them, see expand_bags)."""
    return list(expand_bags(patterns).found)
