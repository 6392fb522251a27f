"""`delete ROOT --episodes N[,M...] | --failing`: drop whole episodes; the others are renumbered.

Data files after the first dropped episode are rewritten (their episode and frame numbers change); video
files whose episodes are all kept are hard-linked, the others rebuilt by packet copy; no frame is
re-encoded and no statistic recomputed beyond the renumbered columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dataprep.edit.apply import edit_in_place
from dataprep.edit.build import EditSummary
from dataprep.edit.plan import Take, whole_episodes
from dataprep.edit.records import failing_episodes
from dataprep.edit.source import EditError, SourceDataset


def delete_episodes(root: Path, episodes: Sequence[int] = (), failing: bool = False,
                    again: bool = False) -> EditSummary:
    """Delete `episodes` (or the quality report's failing ones) from the dataset at `root`."""
    chosen = sorted(set(failing_episodes(root)) if failing else set(episodes))
    if not chosen:
        raise EditError(f"{root}: no episode to delete" + (" (quality.json lists none failing)" if failing else ""))

    def takes(source: SourceDataset) -> list[Take]:
        for index in chosen:
            source.episode(index)  # names an episode that does not exist
        return whole_episodes(source, [i for i in range(len(source.episodes)) if i not in chosen])

    args = {"episodes": chosen}
    if not failing:
        return edit_in_place(root, "delete", args, takes, again)
    return edit_in_place(root, "delete", {**args, "failing": True}, takes, again)
