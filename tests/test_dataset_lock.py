"""One run per dataset: a second is refused at once naming the holder; a lock left by a killed run is taken over."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from parallel_helpers import PROJECT, kuavo_config, write_bags

from dataprep.conversion import convert_dataset
from dataprep.conversion.staging import lock_path
from dataprep.storage import OutputLockedError, output_lock

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from dataprep.storage import output_lock
    with output_lock(Path(sys.argv[1]), "dataset under test"):
        print("locked", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Another process holding the lock of tmp_path/out's dataset, as a second run would see it."""
    bags = write_bags(tmp_path / "bags", count=1)
    config = kuavo_config(bags, tmp_path / "out")
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path(config))], cwd=PROJECT, text=True,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    try:
        assert process.stdout is not None and process.stdout.readline() == "locked\n"
        yield process, bags
    finally:
        process.kill()
        process.wait()


def test_a_second_run_on_the_same_dataset_is_refused_at_once_naming_the_holder(
        holder: tuple[subprocess.Popen[str], Path], tmp_path: Path) -> None:
    process, bags = holder
    config = kuavo_config(bags, tmp_path / "out")
    with pytest.raises(OutputLockedError, match=rf"dataset {tmp_path / 'out/test/parallel'} is being written by "
                                                rf"another run \(host {socket.gethostname()}, PID {process.pid}, "
                                                rf"started 20\d\d-.*; lock file {lock_path(config)}\)"):
        convert_dataset(config)
    assert not config.dataset_root.exists() and not (tmp_path / "out/.staging").exists()  # nothing touched


def test_a_lock_left_by_a_killed_run_is_taken_over_and_logged(holder: tuple[subprocess.Popen[str], Path],
                                                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    process, bags = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert f'"pid": {process.pid}' in lock_path(kuavo_config(bags, tmp_path / "out")).read_text()  # left behind
    with caplog.at_level(logging.WARNING, logger="dataprep.storage.lock"):
        report = convert_dataset(kuavo_config(bags, tmp_path / "out"))
    assert report.dataset.episodes == 1
    assert f"PID {process.pid}, started" in caplog.text and f"PID {process.pid} is no longer running" in caplog.text
    assert lock_path(kuavo_config(bags, tmp_path / "out")).read_text() == ""  # released by the run


def test_the_lock_is_held_for_the_block_and_free_after_it(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with output_lock(path, "x") as me:
        assert me.pid == os.getpid()
        with pytest.raises(OutputLockedError, match=f"x is being written by another run .*PID {os.getpid()}"):
            with output_lock(path, "x"):
                pass
    with output_lock(path, "x"):
        pass
