"""Whatever goes wrong inside one bag fails that bag alone, named; run-level errors stop the run once."""

from __future__ import annotations

import errno
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import conclude_conversion, convert_bag, convert_dataset
from dataprep.conversion.containment import contained_failure, run_level_error
from dataprep.conversion.staging import staging_root
from dataprep.errors import DataprepError, RunError, TransientError
from dataprep.rosbag import BagError
from dataprep.sample import KuavoBagSpec, Ros2BagSpec, write_kuavo_bag, write_ros2_bag
from flows.cli import log_file, run_cli
from flows.convert_all import main

PROJECT = Path(__file__).resolve().parents[1]
SMALL = KuavoBagSpec(duration_s=2.0, width=64, height=48)


def kuavo_config(bags: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                       [f"input.bags={bags}", f"output_root={out}", "repo_id=test/contain", *overrides])


def overwrite_index(good: Path, broken: Path) -> Path:
    """A copy whose last 60 kB (the ROS1 index: connections and chunk infos) are seeded random bytes."""
    data = bytearray(good.read_bytes())
    start = len(data) - 60_000
    data[start:start + 50_000] = random.Random(3).randbytes(50_000)
    broken.write_bytes(bytes(data))
    return broken


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good Kuavo-like bags, a file of random bytes named .bag, and a good bag with its index overwritten."""
    folder = tmp_path_factory.mktemp("batch")
    write_kuavo_bag(folder / "a_good.bag", SMALL)
    write_kuavo_bag(folder / "b_good.bag", KuavoBagSpec(duration_s=1.5, width=64, height=48))
    (folder / "c_random.bag").write_bytes(random.Random(1).randbytes(5000))
    overwrite_index(folder / "a_good.bag", folder / "d_index.bag")
    return folder


def test_a_batch_with_skip_converts_every_good_bag_and_names_every_broken_one(batch: Path, tmp_path: Path) -> None:
    report = convert_dataset(kuavo_config(batch, tmp_path / "out", "on_bag_error=skip"))
    assert [Path(b.bag).name for b in report.bags] == ["a_good.bag", "b_good.bag"]
    assert report.dataset.episodes == 2
    failures = {Path(f.unit).name: f.message for f in report.skipped}
    assert failures["c_random.bag"] == (f"bag {batch / 'c_random.bag'}: the file is not a bag, or its header is "
                                        "damaged (its first bytes are not a bag's text header)")
    # the overwrite lands in the last chunk's data: the chunk is named by its offset (the index is read per chunk)
    assert failures["d_index.bag"].startswith(f"bag {batch / 'd_index.bag'}: read failed: damaged chunk at byte "
                                              "offset ")
    assert "rosbag reindex" in failures["d_index.bag"]


def test_a_field_index_past_the_values_names_bag_topic_field_and_time(tmp_path: Path) -> None:
    bag = write_ros2_bag(tmp_path / "bag", Ros2BagSpec(duration_s=1.0))
    config = ConvertConfig.model_validate({
        "input": {"bags": str(bag)}, "output_root": str(tmp_path / "out"), "repo_id": "test/idx", "fps": 5,
        "task": "t", "features": {"observation.state": {"parts": [{"topic": "/joint_states", "field": "position[40]"}]}}})
    with pytest.raises(DataprepError, match=rf"bag {bag}: topic /joint_states: field 'position\[40\]': cannot take the "
                                       r"values \(IndexError: index 40 is out of bounds .* size 6\) at the message "
                                       r"of t=1700000000\d+ ns"):
        convert_bag(config, bag)
    assert not staging_root(config).exists() or not any(staging_root(config).iterdir())


def test_unforeseen_errors_are_classified_by_what_a_retry_could_do(tmp_path: Path) -> None:
    bag, out = tmp_path / "x.bag", tmp_path / "out"
    full = contained_failure(OSError(errno.ENOSPC, "No space left on device", str(out / "f")), bag, out)
    assert type(full) is BagError and str(full).startswith(f"bag {bag}: disk full while writing {out / 'f'}: free")
    denied = contained_failure(PermissionError(errno.EACCES, "Permission denied", str(out / "d")), bag, out)
    assert type(denied) is BagError and str(denied) == f"bag {bag}: I/O error {out / 'd'}: Permission denied"
    assert isinstance(run_level_error(OSError(errno.ENOSPC, "No space left on device"), out), RunError)  # finalize's
    unreadable = contained_failure(PermissionError(errno.EACCES, "Permission denied", str(bag)), bag, out)
    assert type(unreadable) is BagError and not unreadable.retryable
    assert str(unreadable) == f"bag {bag}: I/O error {bag}: Permission denied"
    flaky = contained_failure(OSError(errno.EIO, "Input/output error"), bag, out, "topic /a, message at t=5 ns")
    assert isinstance(flaky, TransientError) and flaky.retryable
    assert str(flaky) == f"bag {bag}: topic /a, message at t=5 ns: I/O error: Input/output error"
    bug = contained_failure(ZeroDivisionError("division by zero"), bag, out)
    assert str(bug) == f"bag {bag}: unexpected ZeroDivisionError: division by zero (the traceback is in the log)"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB tmpfs, so 'disk full' and 'read-only' are the kernel's own errors (needs root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, check=False).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill_leaving(disk: Path, free: int) -> Path:
    """Fill `disk` with one file, then give `free` bytes back; the file, to delete later."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        with pytest.raises(OSError, match="No space left"):
            while True:
                f.write(b"\0" * 65_536)
    with filler.open("r+b") as f:
        f.truncate(filler.stat().st_size - free)
    return filler


def test_a_disk_that_fills_inside_one_bag_fails_that_bag_alone_and_the_others_commit(small_disk: Path,
                                                                                    tmp_path: Path) -> None:
    bags = tmp_path / "bags"
    for name, seconds in (("a_small", 1.0), ("b_big", 14.0), ("c_small", 1.2)):  # b stages ~1.7 MB, a and c ~150 kB
        write_kuavo_bag(bags / f"{name}.bag", KuavoBagSpec(duration_s=seconds, width=64, height=48))
    config = kuavo_config(bags, small_disk / "out", "on_bag_error=skip", "camera_storage=image")
    fill_leaving(small_disk, 1_000_000)
    report = convert_dataset(config)
    assert [Path(b.bag).name for b in report.bags] == ["a_small.bag", "c_small.bag"] and report.dataset.episodes == 2
    (failure,) = report.skipped
    assert failure.unit == str(bags / "b_big.bag")
    assert f"disk full while writing {small_disk / 'out'}" in failure.cause  # pyarrow's error names no file
    assert "rerun; this bag is converted again, the bags already staged are not" in failure.cause
    staged = staging_root(config)  # a and c are committed (their staging then goes), nothing of b is left
    assert not staged.exists() or not any(staged.iterdir())
    assert "b_big" not in (config.dataset_root / "meta/quality.json").read_text()  # nothing of it in the dataset


def test_a_read_only_output_stops_the_run_once_before_any_bag_is_read(batch: Path, small_disk: Path,
                                                                     tmp_path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    config = kuavo_config(batch / "a_good.bag", small_disk / "out")
    with pytest.raises(RunError, match=rf"output folder {small_disk / 'out'} is not writable \(Read-only file system\)"):
        convert_dataset(config)


def test_a_disk_that_fills_during_assembly_names_the_path_and_keeps_the_staged_bags(
        batch: Path, small_disk: Path) -> None:
    config = kuavo_config(batch / "a_good.bag", small_disk / "out")
    conversion = convert_bag(config, batch / "a_good.bag")
    filler = fill_leaving(small_disk, 16_384)  # the dataset does not fit
    with pytest.raises(RunError, match=rf"disk full while writing {small_disk / 'out'}.*: free space on that disk"):
        conclude_conversion(config, [conversion], [])
    assert not config.dataset_root.exists()
    assert not list((small_disk / "out").rglob("info.json"))  # the half-built dataset is removed
    filler.unlink()
    assert conclude_conversion(config, [conversion], []).dataset.frames == conversion.frames


def test_cli_prints_one_block_per_failed_bag_no_traceback_and_no_retry(
        batch: Path, tmp_path: Path, prefect_server: None, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["--set", f"rosbag_to_lerobot.input.bags={batch}", "--set", f"rosbag_to_lerobot.output_root={tmp_path}",
                 "--set", "rosbag_to_lerobot.input.generate_sample_if_missing=false"])
    err = capfd.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "Finished in state Failed" not in err
    assert err.startswith("error: rosbag_to_lerobot: 2 of 4 bag(s) failed")
    assert f"\n- {batch / 'c_random.bag'}\n    the file is not a bag" in err
    assert f"\n- {batch / 'd_index.bag'}\n    read failed: damaged chunk at byte offset" in err
    assert "Traceback" in log_file().read_text()  # kept for whoever debugs it
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=["convert-c_random.bag"])))
    assert runs and all(run.run_count == 1 for run in runs)  # a file of random bytes is not retried


def test_cli_reports_a_read_only_output_once(batch: Path, small_disk: Path, prefect_server: None,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code = main(["--set", f"rosbag_to_lerobot.input.bags={batch}",
                 "--set", f"rosbag_to_lerobot.output_root={small_disk}/out",
                 "--set", "rosbag_to_lerobot.input.generate_sample_if_missing=false"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.count("is not writable") == 1 and f"output folder {small_disk}/out is not writable" in err



def test_cli_names_an_unexpected_error_in_one_line_and_keeps_its_traceback_in_the_log(
        capfd: pytest.CaptureFixture[str]) -> None:
    def broken() -> str:
        raise ZeroDivisionError("division by zero")

    assert run_cli(broken) == 1
    err = capfd.readouterr().err
    assert err == f"error: unexpected ZeroDivisionError: division by zero; the traceback is in {log_file()}\n"
    assert 'raise ZeroDivisionError("division by zero")' in log_file().read_text()
