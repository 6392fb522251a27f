"""The prepared tree from mini GoPro + spike trees in both encodings: links, report, voxels, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gopro_mini import (
    GOPRO_ONLY,
    SPIKE_ONLY,
    TEST,
    TRAIN,
    build,
    digest,
    expected_links,
    expected_problems,
    expected_voxel,
    listing,
)

from dataprep.gopro import prepare_tree
from dataprep.gopro.report import COUNTS, REPORT_FILE

ENCODINGS = ["bytes", "bitpacked"]


def counts(
    created: int = 0,
    updated: int = 0,
    removed: int = 0,
    unchanged: int = 0,
    written: int = 0,
    voxels_removed: int = 0,
) -> dict[str, int]:
    return dict(zip(COUNTS, (created, updated, removed, unchanged, written, voxels_removed), strict=True))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_tree_report_and_voxels_are_exactly_what_the_raw_trees_allow(tmp_path: Path, encoding: str) -> None:
    tree = build(tmp_path, encoding)
    raw_before = digest(tmp_path / "raw")
    prepare_tree(tree.config)

    expected = {REPORT_FILE: "file", "train": "dir", "test": "dir"}
    for sequence, frames in ((TRAIN, ["000047", "000048"]), (TEST, ["7", "8", "10"])):
        expected |= expected_links(tree, sequence, frames)
        expected[f"{sequence}/.prepared.json"] = "file"
        expected[f"{sequence}/spike_vox"] = "dir"
        expected |= {f"{sequence}/spike_vox/{frame}.npy": "file" for frame in frames}
    assert listing(tree.out) == expected

    for sequence, frames in ((TRAIN, ["000047", "000048"]), (TEST, ["7", "8", "10"])):
        for frame in frames:
            voxel = np.load(tree.out / sequence / f"spike_vox/{frame}.npy")
            assert voxel.dtype == np.float32 and voxel.shape == (2, tree.geometry.height, tree.geometry.width)
            np.testing.assert_array_equal(voxel, expected_voxel(sequence, frame, tree.geometry))

    report = json.loads((tree.out / REPORT_FILE).read_text())
    assert report == {
        "output_root": str(tree.out),
        "splits": ["test", "train"],
        "totals": {
            "sequences": 2,
            "frames": 5,
            "frames_left_out": 3,
            "sequences_left_out": 2,
            "sequences_failed": 0,
            **counts(created=15, written=5),
        },
        "sequences": {
            TEST: {"frames": 3, "left_out": {}, **counts(created=9, written=3)},
            TRAIN: {"frames": 2, "left_out": expected_problems(encoding), **counts(created=6, written=2)},
        },
        "left_out_sequences": {SPIKE_ONLY: "only in spike_root", GOPRO_ONLY: "only in gopro_root"},
        "failed_sequences": {},
    }
    assert digest(tmp_path / "raw") == raw_before


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_rerun_changes_nothing_then_follows_removed_and_repaired_sources(
    tmp_path: Path, encoding: str
) -> None:
    tree = build(tmp_path, encoding)
    prepare_tree(tree.config)
    first = listing(tree.out)
    voxel_times = {p: p.stat().st_mtime_ns for p in tree.out.rglob("*.npy")}

    again = prepare_tree(tree.config)
    assert listing(tree.out) == first
    assert {p: p.stat().st_mtime_ns for p in tree.out.rglob("*.npy")} == voxel_times
    assert {key: again.totals()[key] for key in COUNTS} == counts(unchanged=15)

    # the user removes a sharp frame and fixes the truncated spike file; a link is pointed elsewhere
    (tree.gopro / TRAIN / "sharp/000048.png").unlink()
    good = tree.spike / TRAIN / "spike/000047.dat"
    (tree.spike / TRAIN / "spike/000050.dat").write_bytes(good.read_bytes())
    (tree.out / TEST / "blur/7.png").unlink()
    (tree.out / TEST / "blur/7.png").symlink_to("../../elsewhere.png")
    raw_before = digest(tmp_path / "raw")

    prepare_tree(tree.config)
    assert digest(tmp_path / "raw") == raw_before
    entries = listing(tree.out)
    assert not any("000048" in key for key in entries)  # links and voxel of the vanished frame are gone
    assert f"{TRAIN}/spike_vox/000050.npy" in entries and f"{TRAIN}/blur/000050.png" in entries
    assert entries[f"{TEST}/blur/7.png"] == first[f"{TEST}/blur/7.png"]
    np.testing.assert_array_equal(
        np.load(tree.out / TRAIN / "spike_vox/000050.npy"), expected_voxel(TRAIN, "000047", tree.geometry)
    )
    report = json.loads((tree.out / REPORT_FILE).read_text())
    assert report["sequences"][TRAIN]["left_out"] == {
        "000048": "missing in sharp",
        **{k: v for k, v in expected_problems(encoding).items() if k != "000050"},
    }
    assert report["sequences"][TRAIN] | {"left_out": None} == {
        "frames": 2,
        "left_out": None,
        **counts(created=3, removed=3, unchanged=3, written=1, voxels_removed=1),
    }
    assert report["sequences"][TEST]["links_updated"] == 1


def test_spike_file_that_turns_invalid_loses_its_links_and_voxel(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    prepare_tree(tree.config)
    spike = tree.spike / TEST / "spike/8.dat"
    data = bytearray(spike.read_bytes())
    data[-1] = 7
    spike.write_bytes(bytes(data))
    report = prepare_tree(tree.config).as_json()
    assert report["sequences"][TEST]["left_out"] == {
        "8": "invalid spike: value 7 at frame 3, pixel 47 (bytes encoding holds only 0 and 1)"
    }
    assert report["sequences"][TEST] | {"left_out": None} == {
        "frames": 2,
        "left_out": None,
        **counts(removed=3, unchanged=6, voxels_removed=1),
    }
    assert not [key for key in listing(tree.out) if "/8." in key]


def test_sequence_gone_from_both_roots_is_removed_from_the_output(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    prepare_tree(tree.config)
    for root in (tree.gopro, tree.spike):
        for path in sorted((root / TEST).rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (root / TEST).rmdir()
    report = prepare_tree(tree.config).as_json()
    assert not (tree.out / TEST).exists()
    assert report["left_out_sequences"][TEST] == "no longer in gopro_root or spike_root"
    assert report["totals"]["links_removed"] == 9 and report["totals"]["voxels_removed"] == 3
    assert TEST not in prepare_tree(tree.config).as_json()["left_out_sequences"]


def test_real_file_where_a_link_goes_fails_that_sequence_alone_and_is_kept(tmp_path: Path) -> None:
    tree = build(tmp_path, "bitpacked")
    blocker = tree.out / TEST / "sharp/8.png"
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"mine")
    report = prepare_tree(tree.config)
    assert blocker.read_bytes() == b"mine" and not blocker.is_symlink()
    assert [f.unit for f in report.failures] == [TEST]
    assert json.loads((tree.out / REPORT_FILE).read_text())["failed_sequences"] == {
        TEST: "1 real file(s) where links should go, not overwritten: sharp/8.png; move them away and rerun"
    }
    assert sorted(p.name for p in (tree.out / TEST).iterdir()) == [
        "sharp"
    ]  # nothing written before the check
    assert (tree.out / TRAIN / "blur/000047.png").is_symlink()  # the other sequences went on


def test_dry_run_reports_changes_and_writes_nothing(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    report = prepare_tree(tree.config, dry_run=True)
    assert not tree.out.exists()
    assert report.totals()["links_created"] == 15 and report.totals()["voxels_written"] == 5
    train = next(r for r in report.sequences if r.name == TRAIN)
    assert train.changes[0] == f"create blur/000047.png -> ../../../../raw/gopro/{TRAIN}/blur/000047.png"
    assert train.changes[-2:] == ("write spike_vox/000047.npy", "write spike_vox/000048.npy")
    prepare_tree(tree.config)
    before = listing(tree.out)
    (tree.gopro / TRAIN / "blur/000047.png").unlink()
    report = prepare_tree(tree.config, dry_run=True)
    assert listing(tree.out) == before
    assert next(r for r in report.sequences if r.name == TRAIN).changes == (
        "remove blur/000047.png",
        "remove sharp/000047.png",
        "remove spike/000047.dat",
        "remove spike_vox/000047.npy",
    )


def test_absolute_links_and_no_voxels(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes", link="absolute", voxels=None, sources=["blur_gamma", "sharp"])
    prepare_tree(tree.config)
    entries = listing(tree.out)
    assert entries[f"{TEST}/blur_gamma/10.png"] == f"-> {tree.gopro / TEST / 'blur_gamma/10.png'}"
    assert not any("spike_vox" in key or key.startswith(f"{TEST}/blur/") for key in entries)
