"""Building HDF5 indexes: episode boundaries, statistics, incremental rescans, bad files, configuration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from dataprep.config import ConfigError, Hdf5IndexConfig, PipelineConfig, load_config
from dataprep.hdf5 import Hdf5Error, IndexTables, build_index
from dataprep.hdf5.layout import LAST, SUMMARY_NAME, TERMINAL, TIMEOUT
from dataprep.sample import ReplayFileSpec, write_replay_file, write_segment_file
from dataprep.sample.missing import write_missing_samples
from tests.hdf5_sources import index_config, read_column, write_sources

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    root = tmp_path_factory.mktemp("sources")
    files = write_sources(root)
    build_index(index_config(root, root / "index"))
    return files, root / "index"


def test_pairs_never_cross_episode_ends(built: tuple[dict[str, Path], Path]) -> None:
    files, out = built
    tables = IndexTables.load(out)
    s = tables.samples
    has_next = np.flatnonzero(s["next_row"] >= 0)
    assert len(has_next) and (s["flags"][has_next] & LAST == 0).all()
    assert (s["file_id"][has_next + 1] == s["file_id"][has_next]).all()
    assert (s["episode"][has_next + 1] == s["episode"][has_next]).all()
    assert (s["row"][has_next + 1] == s["next_row"][has_next]).all()
    terminal, timeout = (s["flags"] & TERMINAL) > 0, (s["flags"] & TIMEOUT) > 0
    assert terminal.any() and timeout.any() and not (terminal & timeout).any()
    assert (s["next_row"][terminal | timeout] == -1).all() and (s["not_done"] == ~terminal).all()
    # the oracle: a pair (i, i+1) exists unless row i is terminal, a timeout, or its file's last row
    expected_pairs = 0
    for path in (files["a"], files["b"]):
        with h5py.File(path, "r") as f:
            ends = f["terminal"][()].astype(bool) | f["timeout"][()].astype(bool)
        ends[-1] = True
        expected_pairs += int((~ends).sum())
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["pairs"] == expected_pairs == len(has_next)
    assert summary["samples"] == 500 and summary["episodes"] == len(tables.episodes["start"])
    assert summary["segments"] == 1000 // 128 + 700 // 128 + 512 // 128 and summary["failed"] == []


def test_statistics_equal_numpy_over_all_files(built: tuple[dict[str, Path], Path]) -> None:
    files, out = built
    summary = json.loads((out / SUMMARY_NAME).read_text())
    for name in ("action", "joint", "reward"):
        values = read_column([files["a"], files["b"]], name).astype(np.float64)
        stats = summary["stats"][name]
        assert stats["count"] == len(values)
        np.testing.assert_allclose(stats["mean"], values.mean(axis=0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(stats["std"], values.std(axis=0), rtol=1e-10)
        np.testing.assert_array_equal(stats["min"], values.min(axis=0))
        np.testing.assert_array_equal(stats["max"], values.max(axis=0))
    x = read_column([files["s1"], files["s2"], files["s3"]], "data/x").astype(np.float64)
    np.testing.assert_allclose([summary["stats"]["x"]["mean"], summary["stats"]["x"]["std"]], [x.mean(), x.std()],
                               rtol=1e-10)


def test_index_is_contiguous_and_small(built: tuple[dict[str, Path], Path]) -> None:
    _, out = built
    with h5py.File(out / "index.h5", "r") as f:
        datasets: list[h5py.Dataset] = []
        f.visititems(lambda _, node: datasets.append(node) if isinstance(node, h5py.Dataset) else None)
        assert datasets and all(ds.chunks is None and ds.compression is None for ds in datasets)
        info = {d["name"]: d for d in json.loads(f["files/datasets"][0])}
        assert info["observations/left_image"]["chunks"] == [1, 32, 32, 3]
        # what grows with the data: flat sample columns and row offsets of the chunked images (file a only)
        per_sample = sum(ds.nbytes for ds in f["samples"].values()) + sum(
            ds.nbytes for ds in f["offsets/0/observations"].values())
        assert set(f["offsets"]) == {"0"} and per_sample / 500 <= 200


def test_rerun_rescans_only_the_changed_file(tmp_path: Path) -> None:
    files = write_sources(tmp_path)
    config = index_config(tmp_path, tmp_path / "index")
    first = build_index(config)
    assert len(first.rescanned) == 5
    assert build_index(config).rescanned == ()
    write_replay_file(files["b"], ReplayFileSpec(rows=150, seed=9))  # same path, new content
    stat = files["b"].stat()
    os.utime(files["b"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report = build_index(config)
    assert report.rescanned == (str(files["b"].resolve()),)
    summary = json.loads((tmp_path / "index" / SUMMARY_NAME).read_text())
    assert summary["samples"] == 450
    assert [f["reused"] for f in summary["files"] if f["kind"] == "replay"] == [True, False]
    action = read_column([files["a"], files["b"]], "action").astype(np.float64)
    np.testing.assert_allclose(summary["stats"]["action"]["mean"], action.mean(axis=0), rtol=1e-10)
    files["a"].unlink()  # a source that is gone leaves no stored scan or image cache behind
    build_index(config)
    assert {p.name.split("-")[0] for p in (tmp_path / "index/scans").iterdir()} == {"b", "s1", "s2", "s3"}
    assert [p.name.split("-")[0] for p in (tmp_path / "index/image_cache").iterdir()] == ["b"]


def _hold_open_for_writing(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, h5py; f = h5py.File(sys.argv[1], 'a'); print('ready', flush=True); "
                                "sys.stdin.read()"), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    return holder


def test_each_bad_file_fails_alone_naming_file_and_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    good = write_replay_file(folder / "good.h5", ReplayFileSpec(rows=120, seed=1))
    spec = ReplayFileSpec(rows=60, height=8, width=8, seed=2)
    with h5py.File(write_replay_file(folder / "no_action.h5", spec), "a") as f:
        del f["action"]
    with h5py.File(write_replay_file(folder / "short_reward.h5", spec), "a") as f:
        reward = f["reward"][:50]
        del f["reward"]
        f["reward"] = reward
    with h5py.File(write_replay_file(folder / "four_channels.h5", spec), "a") as f:
        del f["observations/global_image"]
        f["observations/global_image"] = np.zeros((60, 8, 8, 4), dtype=np.uint8)
    (folder / "garbage.h5").write_bytes(b"not an hdf5 file at all" * 10)
    locked = write_replay_file(folder / "locked.h5", spec)
    holder = _hold_open_for_writing(locked)
    try:
        report = build_index(Hdf5IndexConfig(sources=({"kind": "replay", "paths": [str(folder)]},),  # type: ignore[arg-type]
                                             output_root=tmp_path / "index"))
    finally:
        holder.communicate("")
    errors = {Path(f.unit).name: f.message for f in report.failures}
    summary = json.loads((tmp_path / "index" / SUMMARY_NAME).read_text())
    assert {Path(f["path"]).name: f["error"] for f in summary["failed"]} == errors
    assert [s["path"] for s in summary["files"]] == [str(good.resolve())] and summary["samples"] == 120
    expected = {
        "no_action.h5": r"no_action\.h5: missing dataset 'action'",
        "short_reward.h5": r"short_reward\.h5: length mismatch: dataset 'reward' has 50 rows, 'terminal' has 60",
        "four_channels.h5": r"four_channels\.h5: dataset 'observations/global_image' of shape \(60, 8, 8, 4\) "
                            r"is neither \(N, H, W, 3\) HWC nor \(N, 3, H, W\) CHW",
        "garbage.h5": r"garbage\.h5: unreadable as HDF5",
        "locked.h5": r"locked\.h5: locked \(open for writing by another process or handle\)",
    }
    assert set(errors) == set(expected)
    for name, pattern in expected.items():
        assert re.search(pattern, errors[name]), errors[name]


def test_segments_by_table_and_trailing_partial(tmp_path: Path) -> None:
    write_segment_file(tmp_path / "points/t.h5", 100, segments=np.array([[0, 10], [10, 40], [60, 40]]))
    config = Hdf5IndexConfig.model_validate({"sources": [{"kind": "segments", "paths": str(tmp_path / "points"),
                                                          "segment_dataset": "data/segments"}],
                                             "output_root": str(tmp_path / "a")})
    assert build_index(config).counts.segments == 3
    config = config.model_copy(update={"sources": (config.sources[0].model_copy(
        update={"segment_dataset": None, "segment_size": 30, "drop_last": False}),), "output_root": tmp_path / "b"})
    tables = IndexTables.load(build_index(config).root)
    assert tables.segments["length"].tolist() == [30, 30, 30, 10]
    write_segment_file(tmp_path / "bad/t.h5", 100, segments=np.array([[90, 20]]))
    bad = config.model_copy(update={"sources": (config.sources[0].model_copy(
        update={"paths": (str(tmp_path / "bad"),), "segment_dataset": "data/segments", "segment_size": None}),)})
    with pytest.raises(Hdf5Error, match=r"dataset 'data/segments' row 0 = \(90, 20\) lies outside the 100 points"):
        build_index(bad)  # its only file fails: nothing to index


def test_config_checks_sources_and_the_example_loads(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of segment_size or segment_dataset"):
        Hdf5IndexConfig.model_validate({"sources": [{"kind": "segments", "paths": "x"}]})
    with pytest.raises(ValueError, match="apply to segments sources only"):
        Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": "x", "segment_size": 4}]})
    example = load_config(PipelineConfig, PROJECT / "configs/hdf5_replay.yaml").hdf5_index
    assert example is not None and example.image_cache is not None and example.image_cache.size == 224
    with pytest.raises(ConfigError, match=r"hdf5_index\.output_rot"):
        load_config(PipelineConfig, PROJECT / "configs/hdf5_replay.yaml", ["hdf5_index.output_rot=x"])
    with pytest.raises(Hdf5Error, match=r"source path .*nowhere does not exist"):
        build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": str(tmp_path / "nowhere")}]}))


def test_the_bundled_sample_is_written_where_missing_and_indexed(tmp_path: Path) -> None:
    sources = [{"kind": "replay", "paths": [str(tmp_path / "s/replay.h5")]},
               {"kind": "segments", "paths": [str(tmp_path / "s/points.h5")], "segment_size": 4096},
               {"kind": "segments", "paths": [str(tmp_path / "s/table.h5")], "segment_dataset": "data/segments"}]
    config = Hdf5IndexConfig.model_validate({"sources": sources, "output_root": str(tmp_path / "out"),
                                             "generate_sample_if_missing": True})
    assert len(write_missing_samples(config)) == 3  # before the stage runs, as flows.cli and run_stages do
    report = build_index(config)
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert (summary["samples"], summary["segments"], report.failures) == (300, 16, ())
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()}
    assert write_missing_samples(config) == ()  # present now: never rewritten
    build_index(config)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()} == before


def test_a_run_where_every_file_fails_keeps_the_existing_index(tmp_path: Path) -> None:
    source = tmp_path / "replay.h5"
    write_replay_file(source)
    config = Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": [str(source)]}],
                                             "output_root": str(tmp_path / "out")})
    build_index(config)
    before = (tmp_path / "out/index.h5").read_bytes()
    source.write_bytes(b"not HDF5 any more")
    with pytest.raises(Hdf5Error, match=r"(?s)no file could be indexed, so .*index.h5 was not written.*"
                                        r"replay.h5: unreadable as HDF5"):
        build_index(config)
    assert (tmp_path / "out/index.h5").read_bytes() == before
