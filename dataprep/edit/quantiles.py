"""The quantile sketches of an edit's new episodes (stats_quantiles: exact; dataprep/lerobot/quantiles.py).

An episode kept whole keeps its source's sketch under its new number; a trimmed one is sketched again from
its new rows, which the edit has just written. When some new episode has no sketch (its source was written
with stats_quantiles: lerobot, or by another tool) the new version has none either, and meta/stats.json's
quantiles are merged as lerobot 0.6.1 merges them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from dataprep.edit.rows import Numbered
from dataprep.lerobot.layout import DEFAULT_FEATURES
from dataprep.lerobot.quantiles import (
    Sketch,
    column_values,
    dataset_quantiles,
    next_sketch_file,
    read_sketches,
    sketch_of,
    write_sketches,
)

logger = logging.getLogger(__name__)


def write_edit_sketches(out: Path, numbered: Sequence[Numbered]) -> dict[str, dict[str, np.ndarray]] | None:
    """Write the new episodes' sketches into `out` and return the dataset's quantiles; None without sketches."""
    info = numbered[0].take.source.info
    keys = [key for key, f in info.features.items()
            if f.dtype not in ("video", "image") and key not in DEFAULT_FEATURES]
    by_source: dict[int, dict[int, dict[str, Sketch]]] = {}
    result: dict[int, dict[str, Sketch]] = {}
    for item in numbered:
        take = item.take
        if id(take.source) not in by_source:
            by_source[id(take.source)] = read_sketches(take.source.root)
        own = by_source[id(take.source)].get(take.episode.index, {})
        if not keys or not all(key in own for key in keys):
            if any(by_source.values()):
                logger.warning("%s episode %d has no quantile sketch; meta/stats.json's quantiles are merged as "
                               "lerobot merges them and the new version keeps no sketches",
                               take.source.root, take.episode.index)
            return None
        if take.whole:
            result[item.episode] = {key: own[key] for key in keys}
            continue
        rows = pq.read_table(out / info.data_file(*item.data), columns=keys,
                             filters=[("episode_index", "=", item.episode)])
        name = f"{take.source.root} episode {take.episode.index}"
        result[item.episode] = {key: sketch_of(column_values(rows, key), f"{name}: {key}") for key in keys}
    write_sketches(out / next_sketch_file(out), result)
    return dataset_quantiles(result, keys)
