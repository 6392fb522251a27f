"""`trim ROOT --episode N --frames A:B`: keep frames A..B-1 of one episode (Python slice semantics).

The episode's frames are renumbered from 0, later episodes' global indices shift; its statistics are
recomputed from its kept rows and frames, the dataset's from every episode's. Its video is cut by packet
copy when A falls on a keyframe, else that episode alone is re-encoded.
"""

from __future__ import annotations

from pathlib import Path

from dataprep.edit.apply import edit_in_place
from dataprep.edit.build import EditSummary
from dataprep.edit.plan import Take
from dataprep.edit.source import EditError, SourceDataset


def parse_frames(text: str) -> tuple[int | None, int | None]:
    """`A:B`, `A:`, `:B`, negative values counted from the end, as a Python slice."""
    start, sep, stop = text.partition(":")
    if not sep:
        raise EditError(f"--frames {text!r}: expected A:B (a Python slice, e.g. 10:-5)")
    try:
        return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError as err:
        raise EditError(f"--frames {text!r}: A and B must be integers") from err


def trim_episode(root: Path, episode: int, frames: str, again: bool = False) -> EditSummary:
    """Keep frames[A:B] of episode `episode` of the dataset at `root`."""
    start, stop = parse_frames(frames)

    def takes(source: SourceDataset) -> list[Take]:
        target = source.episode(episode)
        a, b, _step = slice(start, stop).indices(target.length)
        if b <= a:
            raise EditError(f"{root}: frames {frames} of episode {episode} ({target.length} frames) keep nothing; "
                            f"to drop the episode use delete --episodes {episode}")
        return [Take(source, ep, a, b) if ep.index == episode else Take(source, ep, 0, ep.length)
                for ep in source.episodes]

    return edit_in_place(root, "trim", {"episode": episode, "frames": frames}, takes, again)
