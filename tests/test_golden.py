"""Our writer's metadata equals lerobot 0.6.1's, key by key, for the same frames (tests/golden/).

The golden datasets were written by lerobot's own `LeRobotDataset.create/add_frame/save_episode`
(tests/golden/make_golden.py, in a Python 3.12 venv); here our writer gets the same frames and every
metadata file is compared: keys and their order, value types, shapes, units and conventions. Values that are
expected to differ are named where they are skipped: lerobot's quantiles (read off a 5,000-bin histogram;
ours are exact), float32 rounding in its moments and the PNG bytes (different encoders, same pixels). Where
episodes sit is compared too: both pack them into one shared data file and mp4, with the same spans.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from golden import frames
from golden.write_ours import write

from dataprep.lerobot.layout import STAT_NAMES
from dataprep.lerobot.stats import FeatureStats, aggregate_stats

GOLDEN = Path(__file__).resolve().parent / "golden"
MODES = ("video", "image")


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our writer's datasets of the golden frames, per camera storage."""
    tmp = tmp_path_factory.mktemp("golden-ours")
    return {mode: write(tmp / mode, mode) for mode in MODES}


def json_of(root: Path, name: str) -> Any:
    return json.loads((root / "meta" / name).read_text())


def episodes_table(root: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((root / "meta/episodes").rglob("*.parquet")))


def data_table(root: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((root / "data").rglob("*.parquet")))


def assert_same_shape_and_types(ours: Any, theirs: Any, where: str) -> None:
    """Same structure: dict keys in order, list lengths, and leaf types (int stays int, bool stays bool)."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for key in theirs:
            assert_same_shape_and_types(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), f"{where}: length {len(ours)} != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_shape_and_types(a, b, f"{where}[{i}]")


def assert_stats_agree(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> None:
    """Same stat names in lerobot's order, shapes, types and count convention; moments to float32 rounding.

    lerobot sums in float32 along the frames axis (no pairwise summation there) and takes std as
    sqrt(E[x^2] - E[x]^2): on a whole episode of pixels at once (image mode) that is off by up to 1e-3
    relative (ours are exact, tests/test_stats.py); vectors and per-frame video updates agree to ~1e-5.
    """
    rtol = 2e-3 if "images" in where else 2e-5
    assert list(ours) == list(theirs) == list(STAT_NAMES), where
    assert_same_shape_and_types(ours, theirs, where)
    assert ours["count"] == theirs["count"], f"{where}: count {ours['count']} != lerobot's {theirs['count']}"
    for name in ("min", "max", "mean", "std"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=2e-6, err_msg=f"{where}/{name}")


@pytest.mark.parametrize("mode", MODES)
def test_info_json_equals_lerobots(ours: dict[str, Path], mode: str) -> None:
    mine, golden = json_of(ours[mode], "info.json"), json_of(GOLDEN / mode, "info.json")

    assert_same_shape_and_types(mine, golden, "info.json")
    assert mine == golden


@pytest.mark.parametrize("mode", MODES)
def test_stats_json_agrees_with_lerobots(ours: dict[str, Path], mode: str) -> None:
    mine, golden = json_of(ours[mode], "stats.json"), json_of(GOLDEN / mode, "stats.json")

    assert sorted(mine) == sorted(golden)  # lerobot's own feature order here is a set's: not compared
    for key in golden:
        assert_stats_agree(mine[key], golden[key], f"stats.json/{key}")


@pytest.mark.parametrize("mode", MODES)
def test_episodes_parquet_agrees_with_lerobots(ours: dict[str, Path], mode: str) -> None:
    mine, golden = episodes_table(ours[mode]), episodes_table(GOLDEN / mode)

    assert mine.schema.remove_metadata() == golden.schema.remove_metadata()
    assert mine.schema.metadata == golden.schema.metadata  # both none: written by pyarrow, not pandas
    mine_rows, golden_rows = mine.to_pylist(), golden.to_pylist()
    for episode, (row, their_row) in enumerate(zip(mine_rows, golden_rows, strict=True)):
        for column, value in their_row.items():
            where = f"episode {episode} {column}"
            if column.startswith("stats/"):
                assert np.shape(row[column]) == np.shape(value), where
                assert row[column] == value if column.endswith("/count") else True, where
            else:
                assert row[column] == value, where
        for key in [c.split("/")[1] for c in their_row if c.endswith("/from_timestamp")]:
            span = row[f"videos/{key}/to_timestamp"] - row[f"videos/{key}/from_timestamp"]
            assert span == pytest.approx(row["length"] / frames.FPS, abs=1e-9)
        stats = {c.split("/")[1] for c in their_row if c.startswith("stats/")}
        for key in stats:
            assert_stats_agree(
                {n: row[f"stats/{key}/{n}"] for n in STAT_NAMES},
                {n: their_row[f"stats/{key}/{n}"] for n in STAT_NAMES},
                where=f"episode {episode} {key}",
            )


@pytest.mark.parametrize("mode", MODES)
def test_tasks_parquet_equals_lerobots(ours: dict[str, Path], mode: str) -> None:
    mine, golden = (
        pq.read_table(ours[mode] / "meta/tasks.parquet"),
        pq.read_table(GOLDEN / mode / "meta/tasks.parquet"),
    )

    assert mine.equals(golden)
    pandas_meta = [json.loads(t.schema.metadata[b"pandas"]) for t in (mine, golden)]
    for meta in pandas_meta:
        meta.pop("creator")  # which pyarrow wrote it
    assert pandas_meta[0] == pandas_meta[1]


@pytest.mark.parametrize("mode", MODES)
def test_data_parquet_schema_metadata_and_values_equal_lerobots(ours: dict[str, Path], mode: str) -> None:
    mine, golden = data_table(ours[mode]), data_table(GOLDEN / mode)
    first = next((ours[mode] / "data").rglob("*.parquet"))
    their_file = next((GOLDEN / mode / "data").rglob("*.parquet"))

    assert mine.schema.remove_metadata() == golden.schema.remove_metadata()
    hf_mine, hf_golden = (json.loads(t.schema.metadata[b"huggingface"]) for t in (mine, golden))
    assert list(hf_mine) == list(hf_golden) and hf_mine["info"] == hf_golden["info"]
    assert len(hf_mine["fingerprint"]) == len(hf_golden["fingerprint"])  # a hash of how it was made
    codecs = [pq.ParquetFile(p).metadata.row_group(0).column(0).compression for p in (first, their_file)]
    assert codecs[0] == codecs[1]
    for column in golden.column_names:
        if column == frames.CAMERA:  # PNG bytes from two encoders: compare the pixels
            pixels = [
                [
                    cv2.imdecode(np.frombuffer(v["bytes"], np.uint8), cv2.IMREAD_UNCHANGED)
                    for v in t[column].to_pylist()
                ]
                for t in (mine, golden)
            ]
            assert all(np.array_equal(a, b) for a, b in zip(*pixels, strict=True))
        else:
            assert mine[column].to_pylist() == golden[column].to_pylist(), column


@pytest.mark.parametrize("mode", MODES)
def test_aggregate_stats_reproduces_lerobots_stats_json(mode: str) -> None:
    """lerobot's stats.json aggregates its episodes' stats; ours gives the same from the same parts."""
    rows = episodes_table(GOLDEN / mode).to_pylist()
    golden = json_of(GOLDEN / mode, "stats.json")

    for key, expected in golden.items():
        parts = [FeatureStats.from_dict({n: row[f"stats/{key}/{n}"] for n in STAT_NAMES}) for row in rows]
        merged = aggregate_stats(parts).to_dict()
        for name in STAT_NAMES:
            # lerobot aggregates image stats held as float32 in memory: 1e-7 is float32's resolution
            np.testing.assert_allclose(
                merged[name], expected[name], rtol=1e-7, atol=1e-12, err_msg=f"{key}/{name}"
            )
