"""`split ROOT --val-episodes N,... | --val-share F --seed S --into TRAIN VAL`: two new datasets from one.

The source is left as it is. Each part keeps its episodes in source order, renumbered from 0; the
commit record of each lists every bag of the source (a bag whose episodes all went to the other part with
an empty range), so an append to either part never brings the other part's episodes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.edit.apply import edit_into
from dataprep.edit.build import EditSummary, NewVersion
from dataprep.edit.plan import whole_episodes
from dataprep.edit.records import EDITS_PATH, edits_after, quality_after, renumbered_record
from dataprep.edit.source import EditError, read_source


def choose_val(episodes: int, share: float, seed: int) -> list[int]:
    """`round(share x episodes)` episodes (at least one, never all) drawn without replacement by `seed`."""
    if not 0.0 < share < 1.0:
        raise EditError(f"--val-share {share}: must lie strictly between 0 and 1")
    count = min(max(1, round(share * episodes)), episodes - 1)
    return sorted(int(i) for i in np.random.default_rng(seed).choice(episodes, size=count, replace=False))


def split_dataset(
    root: Path, into: tuple[Path, Path], val_episodes: Sequence[int] = (), val_share: float | None = None,
    seed: int = 0, again: bool = False,
) -> tuple[EditSummary, EditSummary]:
    """Write the train part (every episode not in val) to into[0] and the val part to into[1]."""
    source = read_source(root)
    total = len(source.episodes)
    if total < 2:
        raise EditError(f"{root}: {total} episode(s); a split needs at least two")
    val = sorted(set(val_episodes)) if val_share is None else choose_val(total, val_share, seed)
    for index in val:
        source.episode(index)
    train = [i for i in range(total) if i not in val]
    if not val or not train:
        raise EditError(f"{root}: the split leaves no episode in {'val' if not val else 'train'}")
    args = {"source": str(Path(root).absolute()), "val_episodes": val}
    results = []
    for part, indices in (("train", train), ("val", val)):
        takes = whole_episodes(source, indices)
        documents: dict[str, Any] = {EDITS_PATH: edits_after(source, "split", {**args, "part": part}, takes)}
        documents.update(quality_after(source, takes, "split"))
        version = NewVersion(source.tasks, {}, renumbered_record(source, takes), documents)
        dest = into[0] if part == "train" else into[1]
        results.append(edit_into(dest, "split", {**args, "part": part}, takes, version, again))
    return results[0], results[1]
