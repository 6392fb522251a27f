"""Finding the bags a configuration names.

A user points at a folder of recordings, a glob, single files or rosbag2 folders; ROS1 bags are `.bag` files,
ROS2 bags are folders holding `metadata.yaml` (or a bare `.mcap`/`.db3` file).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from dataprep.rosbag.errors import BagError

ROS2_STORAGE_SUFFIXES = (".mcap", ".db3")
UNINDEXED_ROS1_SUFFIX = ".bag.active"  # what `rosbag record` leaves when cut off, or while still recording


def is_ros1(path: Path) -> bool:
    return path.suffix == ".bag" or path.name.endswith(UNINDEXED_ROS1_SUFFIX)


def is_bag(path: Path) -> bool:
    """True for a ROS1 `.bag` (or unindexed `.bag.active`) file, a rosbag2 folder or storage file.

    Unindexed recordings are listed, not skipped, so they fail loudly instead of vanishing from a dataset.
    """
    if path.is_dir():
        return (path / "metadata.yaml").is_file()
    return is_ros1(path) or path.suffix in ROS2_STORAGE_SUFFIXES


def _bags_in_folder(folder: Path) -> list[Path]:
    """Bags below a folder; a storage file inside a rosbag2 folder belongs to that folder, not listed twice."""
    if is_bag(folder):
        return [folder]
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            found.extend(_bags_in_folder(child))
        elif is_bag(child):
            found.append(child)
    return found


def find_bags(patterns: Iterable[str]) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted list of distinct bags.

    Raises BagError naming the pattern when it matches nothing, so a typo never yields an empty dataset.
    """
    bags: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]  # noqa: PTH207 - absolute patterns
            found = [bag for match in matches for bag in (_bags_in_folder(match) if match.is_dir() else [match])]
            found = [bag for bag in found if is_bag(bag)]
            if not found:
                raise BagError(f"no bag matches {pattern!r}")
        else:
            path = Path(pattern)
            if not path.exists():
                raise BagError(f"bag path {path} does not exist")
            found = _bags_in_folder(path) if path.is_dir() else [path]
            if not found:
                raise BagError(f"folder {path} holds no bag (.bag files, rosbag2 folders, .mcap or .db3 files)")
            if not is_bag(found[0]):
                raise BagError(f"{path} is not a bag (expected .bag, .mcap, .db3 or a rosbag2 folder)")
        bags.extend(found)
    return sorted({bag.resolve(): bag for bag in bags}.values(), key=str)
