"""Inputs that are not regular files or bag folders are each that path's named failure, never a hang.

Every test has a timeout: opening a FIFO blocks forever, so a regression hangs the test instead of failing
it, and the timeout turns the hang into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from dataprep.config import ConvertConfig, Hdf5IndexConfig
from dataprep.conversion import convert_dataset
from dataprep.errors import DataprepError
from dataprep.gopro import prepare_tree
from dataprep.hdf5 import build_index
from dataprep.rosbag.discover import expand_bags
from dataprep.sample import ReplayFileSpec, Ros2BagSpec, write_replay_file, write_ros2_bag

PROJECT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def unix_socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


def device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # reading it never ends


def loop(path: Path) -> None:
    path.symlink_to(path.name)  # leads to itself


def dangling(path: Path) -> None:
    path.symlink_to("gone-long-ago")


def empty_folder(path: Path) -> None:
    path.mkdir()


def broken_rosbag2(path: Path) -> None:
    path.mkdir()
    (path / "metadata.yaml").symlink_to("../gone.yaml")


# input -> (how to make it at a path, words its failure must hold)
BAG_INPUTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo.bag": (fifo, "a FIFO (named pipe), not a regular file"),
    "socket.bag": (unix_socket, "a socket, not a regular file"),
    "zero.bag": (device, "a character device, not a regular file"),
    "loop.bag": (loop, "a symlink loop"),
    "dangling.bag": (dangling, "a dangling symlink (to gone-long-ago"),
    "empty.bag": (empty_folder, "a folder named like a bag that is not one"),
    "broken_ros2": (broken_rosbag2, "a broken rosbag2 folder: its metadata.yaml is a dangling symlink"),
}


@pytest.fixture(scope="module")
def good_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ros2_bag(tmp_path_factory.mktemp("good") / "good", Ros2BagSpec(duration_s=1.0, width=32,
                                                                                  height=24))


def bag_folder(tmp_path: Path, good_bag: Path, name: str) -> Path:
    folder = tmp_path / "bags"
    shutil.copytree(good_bag, folder / "good")
    make, _ = BAG_INPUTS[name]
    make(folder / name)
    return folder


def config_for(folder: Path | str, out: Path, policy: str) -> ConvertConfig:
    return ConvertConfig.model_validate({
        "input": {"bags": str(folder)}, "output_root": str(out), "repo_id": "test/inputs", "fps": 5, "task": "t",
        "on_bag_error": policy, "cameras": {"front": {"topic": "/camera/image_raw"}},
        "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]}},
    })


@pytest.mark.parametrize("name", sorted(BAG_INPUTS))
def test_a_bad_input_in_a_bag_folder_is_listed_under_skip(good_bag: Path, tmp_path: Path, name: str) -> None:
    folder = bag_folder(tmp_path, good_bag, name)
    report = convert_dataset(config_for(folder, tmp_path / "out", "skip"))
    assert report.dataset.episodes == 1  # the good bag beside it is converted
    assert [failure.unit for failure in report.skipped] == [str(folder / name)]
    assert BAG_INPUTS[name][1] in report.skipped[0].cause


@pytest.mark.parametrize("name", sorted(BAG_INPUTS))
def test_a_bad_input_in_a_bag_folder_fails_the_run_under_fail(good_bag: Path, tmp_path: Path, name: str) -> None:
    folder = bag_folder(tmp_path, good_bag, name)
    config = config_for(folder, tmp_path / "out", "fail")
    with pytest.raises(DataprepError, match=r"1 of 2 bag\(s\) failed") as err:
        convert_dataset(config)
    assert f"- {folder / name}\n    {BAG_INPUTS[name][1]}" in str(err.value)
    assert not config.dataset_root.exists()


def test_a_fifo_named_like_a_bag_fails_the_cli_run_in_words_without_hanging(good_bag: Path, tmp_path: Path) -> None:
    folder = bag_folder(tmp_path, good_bag, "fifo.bag")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump({"rosbag_to_lerobot": config_for(folder, tmp_path / "out", "fail")
                                        .model_dump(mode="json", exclude_defaults=True)}))
    run = subprocess.run([sys.executable, "-m", "flows.convert_all", "--local", "--config", str(pipeline)],
                         check=False, cwd=PROJECT, capture_output=True, text=True, timeout=100,
                         env={**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")})
    assert run.returncode == 2, run.stderr
    assert f"{folder / 'fifo.bag'}\n    a FIFO (named pipe), not a regular file" in run.stderr
    assert "Traceback" not in run.stderr


def test_bag_paths_are_normalised_once_and_urls_are_named_as_unsupported(good_bag: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bags"
    shutil.copytree(good_bag, folder / "good")
    twice = expand_bags([str(folder / "good"), str(folder / ".." / "bags" / "good")])
    assert twice.found == (folder / "good",) and twice.rejected == ()
    url = "https://example.org/run_1.bag"
    with pytest.raises(DataprepError, match=r"bag path 'https://example.org/run_1.bag' is a URL; only local paths "
                                            r"are read: download it first \(e.g. `curl -LO https://example.org/"
                                            r"run_1.bag`\) and give the downloaded path"):
        convert_dataset(config_for(url, tmp_path / "out", "skip"))


def test_when_every_bag_fails_under_skip_the_hint_fits_the_setting(tmp_path: Path) -> None:
    folder = tmp_path / "bags"
    folder.mkdir()
    fifo(folder / "a.bag")
    (folder / "b.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(DataprepError) as err:
        convert_dataset(config_for(folder, tmp_path / "out", "skip"))
    message = str(err.value)
    assert "2 of 2 bag(s) failed" in message
    assert "no bag converted, so there is nothing to assemble: fix the bags listed below" in message
    assert "set on_bag_error: skip" not in message


HDF5_INPUTS: dict[str, tuple[Callable[[Path], None], str]] = {
    name.replace(".bag", ".h5"): value for name, value in BAG_INPUTS.items() if name != "broken_ros2"
}
HDF5_INPUTS["empty.h5"] = (empty_folder, "a folder named like a HDF5 file that is not one")


@pytest.mark.parametrize("name", sorted(HDF5_INPUTS))
def test_a_bad_input_among_hdf5_sources_is_that_files_failure(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "replay"
    good = write_replay_file(folder / "good.h5", ReplayFileSpec(rows=40, height=8, width=8))
    make, words = HDF5_INPUTS[name]
    make(folder / name)
    report = build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": str(folder)}],
                                                         "output_root": str(tmp_path / "index")}))
    assert [scan.identity.path for scan in report.files] == [str(good.resolve())]
    assert [Path(f.unit).name for f in report.failures] == [name]
    assert words in report.failures[0].message


def test_a_truncated_hdf5_file_is_named_truncated_not_locked(tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    write_replay_file(folder / "good.h5", ReplayFileSpec(rows=40, height=8, width=8))
    cut = write_replay_file(folder / "cut.h5", ReplayFileSpec(rows=400, height=16, width=16))
    with cut.open("r+b") as f:
        f.truncate(cut.stat().st_size // 2)
    report = build_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": str(folder)}],
                                                         "output_root": str(tmp_path / "index")}))
    (failure,) = report.failures
    assert "cut.h5: truncated: the file is shorter than its header says (" in failure.message
    assert "truncated file: eof = " in failure.message and "copy or write it again" in failure.message
    assert "locked" not in failure.message
    with h5py.File(folder / "good.h5") as f:  # the good file was only read
        assert np.asarray(f["terminal"]).shape == (40,)


def test_gopro_frames_and_sequences_that_are_not_files_or_folders_are_left_out_with_the_reason(
        tmp_path: Path) -> None:
    from gopro_mini import TEST, TRAIN, build

    tree = build(tmp_path, "bytes")
    spike = tree.spike / TRAIN / "spike/000047.dat"
    spike.unlink()
    fifo(spike)  # the spike check would block on it forever
    image = tree.gopro / TEST / "sharp/7.png"
    image.unlink()
    dangling(image)
    loop(tree.gopro / "train" / "GOPR9999_00_00")  # a sequence folder that is a loop
    report = prepare_tree(tree.config)
    left = {(r.name, f.frame): f.reason for r in report.sequences for f in r.left_out}
    assert left[(TRAIN, "000047")] == ("spike/000047.dat is a FIFO (named pipe), not a regular file: only regular "
                                       "files are read; move it out of the input")
    assert left[(TEST, "7")].startswith("sharp/7.png is a dangling symlink (to gone-long-ago")
    sequences = {r.name: r.reason for r in report.sequences}
    assert "a symlink loop" in (sequences["train/GOPR9999_00_00"] or "")
    assert report.failures == ()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file, link and folder under root: what a sync tool compares."""
    entries = {".": (root.lstat().st_ino, root.lstat().st_mtime_ns)}
    for path in root.rglob("*"):
        info = path.lstat()
        entries[str(path.relative_to(root))] = (info.st_ino, info.st_mtime_ns)
    return entries


def test_a_gopro_rerun_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    from gopro_mini import build

    tree = build(tmp_path, "bitpacked")
    prepare_tree(tree.config)
    before = snapshot(tree.out)
    assert any(name.endswith(".prepared.json") for name in before) and "report.json" in before
    again = prepare_tree(tree.config)
    assert again.totals()["links_unchanged"] > 0 and again.totals()["links_created"] == 0
    assert snapshot(tree.out) == before  # report.json, every .prepared.json, every folder untouched


def test_a_committed_bag_whose_file_changed_is_said_on_the_console_and_in_the_report(good_bag: Path,
                                                                                     tmp_path: Path) -> None:
    from flows.summaries import describe_conversion

    folder = tmp_path / "bags"
    shutil.copytree(good_bag, folder / "good")
    config = config_for(folder, tmp_path / "out", "fail")
    assert convert_dataset(config).changed == ()
    storage = next((folder / "good").glob("*.mcap"))
    os.utime(storage, ns=(storage.stat().st_atime_ns, storage.stat().st_mtime_ns + 10**9))  # rewritten in place
    report = convert_dataset(config)
    assert report.changed == (str(folder / "good"),)
    assert report.dataset.episodes == 1  # kept as committed, not converted twice
    console = describe_conversion(report)
    assert (f"{folder / 'good'}: CHANGED: changed since its episodes were committed; the dataset still holds the "
            "old content (this run does not convert it again); to convert it again, rerun with --set "
            "rosbag_to_lerobot.mode=rebuild") in console


def test_inspect_bags_names_a_fifo_and_still_shows_the_good_bag(good_bag: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from flows.inspect_bags import main

    folder = bag_folder(tmp_path, good_bag, "fifo.bag")
    assert main([str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "/camera/image_raw" in out  # the good bag's summary
    assert "1 of 2 bag(s) cannot be read" in err
    assert f"bag {folder / 'fifo.bag'}: a FIFO (named pipe), not a regular file" in err


def test_a_bad_input_added_to_a_committed_dataset_is_listed_under_skip_and_the_dataset_kept(
        good_bag: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bags"
    shutil.copytree(good_bag, folder / "good")
    config = config_for(folder, tmp_path / "out", "skip")
    first = convert_dataset(config)
    info = (first.dataset.root / "meta/info.json").read_bytes()
    fifo(folder / "new.bag")
    again = convert_dataset(config)
    assert (again.dataset.episodes, [f.unit for f in again.skipped]) == (1, [str(folder / "new.bag")])
    assert (again.dataset.root / "meta/info.json").read_bytes() == info


@pytest.mark.timeout(300)
def test_the_prefect_flow_lists_a_rejected_input_as_the_library_does(good_bag: Path, tmp_path: Path,
                                                                      prefect_server: None) -> None:
    from flows.hdf5_index import hdf5_index
    from flows.rosbag_to_lerobot import rosbag_to_lerobot

    folder = bag_folder(tmp_path, good_bag, "fifo.bag")
    report = rosbag_to_lerobot(config_for(folder, tmp_path / "out", "skip"))
    assert report.dataset.episodes == 1
    assert [(f.unit, f.cause.split(",")[0]) for f in report.skipped] == [(str(folder / "fifo.bag"),
                                                                         "a FIFO (named pipe)")]
    replay = tmp_path / "replay"
    write_replay_file(replay / "good.h5", ReplayFileSpec(rows=40, height=8, width=8))
    loop(replay / "loop.h5")
    index = hdf5_index(Hdf5IndexConfig.model_validate({"sources": [{"kind": "replay", "paths": str(replay)}],
                                                       "output_root": str(tmp_path / "index")}))
    assert [(Path(f.unit).name, "a symlink loop" in f.message) for f in index.failures] == [("loop.h5", True)]
