"""Whole-dataset quantiles (`stats_quantiles: exact`) from mergeable per-episode sketches.

lerobot 0.6.1 writes the count-weighted mean of the episodes' quantiles to meta/stats.json, which is not a
quantile of the dataset. With `exact`, every episode keeps a sketch per vector feature and dimension: its
`n` values' order statistics at K + 1 evenly spaced ranks r_j = round(j (n - 1) / K) (all n values when
n <= K + 1). Merging the episodes' sketches puts each stored value at the ranks it stands for (weight
r_j - r_{j-1}, the first 1) and reads the q-quantile at rank q (N - 1) off the merged, sorted points by
linear interpolation, as numpy's default does.

Error bound: with g_i = the largest gap between episode i's stored ranks (1 when it stores every value) and
D = sum_i (g_i - 1), the q-quantile written lies between Q(q (N - 1) - D - 1) and Q(q (N - 1) + D + 1),
where Q(r) is the exact value at 0-based rank r of all N frames (numpy's linear quantile). D < N / K, so
the rank error is below N / K + 1 frames (K = 256: under 0.4 % of the frames); episodes of at most K + 1
frames are exact (D = 0: numpy's quantiles to rounding). Proof sketch: the merged estimate E(x) of the
number of values <= x undercounts each episode by at most g_i - 1, and interpolation spans one point's
weight, at most max g_i <= D + 1.

The sketches live beside the dataset's statistics in meta/quantile_sketches/file-NNNNNN.parquet (one row
per episode and feature, keyed by episode_index), which lerobot never reads. An append links the
committed files and adds one; an edit writes them anew from the sources' (a trimmed episode's from its
new rows), so no operation reads committed frames again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.stats import QUANTILE_KEYS, QUANTILES
from dataprep.storage.swap import link_tree

SKETCH_POINTS = 256  # K: the ranks stored per episode and dimension are K + 1
SKETCH_FOLDER = "meta/quantile_sketches"
_SCHEMA = pa.schema([("episode_index", pa.int64()), ("feature", pa.string()), ("count", pa.int64()),
                     ("points", pa.list_(pa.list_(pa.float64())))])


@dataclass(frozen=True, eq=False)
class Sketch:
    """One episode's values of one feature: `count` per dimension, `points` (dim, m) sorted order statistics."""

    count: int
    points: np.ndarray

    @property
    def ranks(self) -> np.ndarray:
        return _ranks(self.count, self.points.shape[1])

    @property
    def largest_gap(self) -> int:
        return int(np.diff(self.ranks).max(initial=1))


def _ranks(n: int, m: int) -> np.ndarray:
    return np.round(np.linspace(0, n - 1, m)).astype(np.int64)


def sketch_of(values: np.ndarray, name: str = "values", points: int | None = None) -> Sketch:
    """The sketch of an (N, dim) column (1-D: N scalars); K is SKETCH_POINTS unless `points` says."""
    data = np.asarray(values, dtype=np.float64)
    data = data[:, None] if data.ndim == 1 else data.reshape(len(data), -1)
    if len(data) == 0:
        raise DataprepError(f"{name}: a quantile sketch needs at least one value")
    k = SKETCH_POINTS if points is None else points
    ranks = _ranks(len(data), min(len(data), k + 1))
    return Sketch(len(data), np.ascontiguousarray(np.sort(data, axis=0)[ranks].T))


def rank_error_bound(sketches: Sequence[Sketch]) -> int:
    """D + 1 of the module's bound: how many ranks the merged quantiles may be off (1 when exact)."""
    return sum(s.largest_gap - 1 for s in sketches) + 1


def merged_quantiles(sketches: Sequence[Sketch], name: str = "feature") -> dict[str, np.ndarray]:
    """q01..q99 of the union of the sketches' values, per dimension."""
    if not sketches:
        raise DataprepError(f"{name}: no sketches to merge")
    dims = {s.points.shape[0] for s in sketches}
    if len(dims) != 1:
        raise DataprepError(f"{name}: sketches of different dimensions {sorted(dims)}")
    total = sum(s.count for s in sketches)
    weights = np.concatenate([np.diff(s.ranks, prepend=-1) for s in sketches])
    values = np.concatenate([s.points for s in sketches], axis=1)  # (dim, points)
    positions = np.asarray(QUANTILES) * (total - 1)
    result = np.empty((len(QUANTILES), values.shape[0]))
    for d, row in enumerate(values):
        order = np.argsort(row, kind="stable")
        ranks = np.cumsum(weights[order]) - 1  # the estimated rank of each point's last copy
        result[:, d] = np.interp(positions, ranks, row[order])
    return dict(zip(QUANTILE_KEYS, result))


def column_values(table: pa.Table, key: str) -> np.ndarray:
    """An (N, dim) array of a list (or scalar) column."""
    column = table.column(key).combine_chunks()
    values = column.flatten() if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type) \
        else column
    array: np.ndarray = values.to_numpy(zero_copy_only=False).reshape(table.num_rows, -1)
    return array


# -- files -----------------------------------------------------------------------------------------------

EpisodeSketches = Mapping[str, Sketch]  # feature -> sketch


def sketch_files(root: Path) -> list[Path]:
    return sorted((Path(root) / SKETCH_FOLDER).glob("file-*.parquet"))


def next_sketch_file(root: Path) -> str:
    """The dataset-relative path of the file after the last one."""
    files = sketch_files(root)
    number = int(files[-1].stem.split("-")[1]) + 1 if files else 0
    return f"{SKETCH_FOLDER}/file-{number:06d}.parquet"


def write_sketches(path: Path, sketches: Mapping[int, EpisodeSketches]) -> None:
    """One file of the episodes' sketches, keyed by episode index."""
    rows = [{"episode_index": episode, "feature": key, "count": s.count, "points": s.points.tolist()}
            for episode, features in sorted(sketches.items()) for key, s in features.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=_SCHEMA), path, compression="snappy")


def read_sketches(root: Path) -> dict[int, dict[str, Sketch]]:
    """Every episode's sketches at `root` (empty when it has none); a later file's row wins."""
    found: dict[int, dict[str, Sketch]] = {}
    for path in sketch_files(root):
        try:
            table = pq.read_table(path, schema=_SCHEMA)
        except (OSError, ValueError, pa.ArrowException) as err:
            raise DataprepError(f"{path}: cannot read the quantile sketches: {err}") from err
        for row in table.to_pylist():
            points = np.asarray(row["points"], dtype=np.float64)
            found.setdefault(row["episode_index"], {})[row["feature"]] = Sketch(row["count"], points)
    return found


def covered(sketches: Mapping[int, Mapping[str, Sketch]], episodes: range, keys: Sequence[str]) -> list[int]:
    """The episodes of `episodes` lacking a sketch of some feature in `keys`."""
    return [ep for ep in episodes if not all(key in sketches.get(ep, {}) for key in keys)]


def dataset_quantiles(sketches: Mapping[int, Mapping[str, Sketch]], keys: Sequence[str]
                      ) -> dict[str, dict[str, np.ndarray]]:
    """Per feature in `keys`, the merged quantiles over every episode in `sketches`."""
    return {key: merged_quantiles([features[key] for features in sketches.values()], key) for key in keys}


def link_sketches(committed_root: Path, out: Path) -> set[str]:
    """Take over the committed sketch files unchanged (an append never rewrites a committed file); the links."""
    return link_tree(committed_root, out, [SKETCH_FOLDER])


def append_sketches(out: Path, committed_root: Path | None, committed_episodes: int,
                    new_rows: Sequence[tuple[str, Path]], keys: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Sketch the new episodes (name, staged rows) as episodes committed_episodes.., write them after the
    committed files already in `out`, and merge every episode's sketches into the dataset's quantiles."""
    committed = read_sketches(committed_root) if committed_root is not None else {}
    missing = covered(committed, range(committed_episodes), keys)
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise DataprepError(
            f"{committed_root}: stats_quantiles: exact needs the quantile sketches ({SKETCH_FOLDER}) of every "
            f"committed episode, and episode(s) {shown} have none (written with stats_quantiles: lerobot); "
            "rebuild the dataset with exact (mode: rebuild) or keep stats_quantiles: lerobot"
        )
    new: dict[int, dict[str, Sketch]] = {}
    for i, (name, path) in enumerate(new_rows):
        try:
            table = pq.read_table(path, columns=list(keys))
        except (OSError, ValueError, pa.ArrowException) as err:
            raise DataprepError(f"{name}: cannot read staged rows {path}: {err}") from err
        new[committed_episodes + i] = {key: sketch_of(column_values(table, key), f"{name}: {key}") for key in keys}
    write_sketches(out / next_sketch_file(out), new)
    every = {ep: committed[ep] for ep in range(committed_episodes)} | new
    return dataset_quantiles(every, keys)
