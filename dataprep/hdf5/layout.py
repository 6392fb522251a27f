"""What the stage reads and writes, named once: source datasets, index file layout, flag bits.

Flags keep the reasons a row ends an episode apart, because they mean different things to a learner: a
terminal row has no future (not_done = 0, its transition is still valid), a timeout row was cut off (its
next observation is unknown, so it has no transition), and a file's last row is cut off the same way.
"""

from __future__ import annotations

# Source files
REPLAY_IMAGES = ("left_image", "right_image", "global_image")  # under observations/
REPLAY_COLUMNS = ("joint", "action", "reward", "terminal")  # required, one row per sample
REPLAY_TIMEOUT = "timeout"  # optional
SEGMENT_COLUMNS = ("x", "y", "z", "classification")  # under data/, one row per point
REPLAY_STATS = ("joint", "action", "reward")
SEGMENT_STATS = ("x", "y", "z")

# Output folder
INDEX_NAME = "index.h5"
SUMMARY_NAME = "summary.json"
SCANS_DIR = "scans"  # one stored scan per source file: what a rerun reuses when the file is unchanged
CACHE_DIR = "image_cache"  # one resized-image file per replay source file
FORMAT_VERSION = 1

# Flag bits of samples/flags
FIRST = 1  # first row of an episode
LAST = 2  # last row of an episode (terminal, timeout or the file's end)
TERMINAL = 4
TIMEOUT = 8


def image_path(camera: str) -> str:
    return f"observations/{camera}"


def segment_path(column: str) -> str:
    return f"data/{column}"
