"""Every stage's unit-failure matrix through the local executor and through Prefect: the same outcome both ways.

Per stage one run holds a unit with bad input (a real bad file), a unit that raises an unexpected exception
and a unit whose disk fills (both injected at the stage's own unit function, which both executors call), and
good units; a second row kills a run mid-unit (SIGKILL, in a subprocess) and reruns it through each executor,
which must give what a clean run gives.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataprep.config import GoproPrepareConfig, Hdf5IndexConfig
from dataprep.conversion import ConversionReport, convert_dataset
from dataprep.gopro import PrepareReport, prepare_tree
from dataprep.hdf5 import IndexReport, build_index
from dataprep.hdf5.build import summary_dict
from dataprep.sample import GoproTreeSpec, KuavoBagSpec, write_gopro_tree, write_kuavo_bag
from dataprep.stages import LocalExecutor, Report, Stage, StageOutcome, run_stage
from dataprep.storage.crashpoints import CRASH_ENV
from tests.hdf5_sources import write_sources
from tests.parallel_helpers import PROJECT, dataset_content, kuavo_config

Outcome = tuple[Any, ...]


def disk_full(path: Path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def inject(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, key: Callable[..., str],
           faults: dict[str, BaseException]) -> None:
    """Make `module.name` raise `faults[key(args)]` for the units named there, and run as before for the rest."""
    original = getattr(module, name)

    def faulty(*args: Any, **kwargs: Any) -> Any:
        if (fault := faults.get(key(*args))) is not None:
            raise fault
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, faulty)


def failures(listed: Any, out: Path) -> list[tuple[str, str, str]]:
    return [(Path(f.unit).name, f.kind, f.message.replace(str(out), "<out>")) for f in listed]


def kill_mid_unit(section: str, config: dict[str, Any], tmp_path: Path, crash: str | None) -> None:
    """Run the stage alone without Prefect in a subprocess and SIGKILL it mid-unit: at the crash point `crash`,
    or (None) once its first unit has started writing its output."""
    pipeline = tmp_path / f"{section}-killed.yaml"
    pipeline.write_text(yaml.safe_dump({section: config}))
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    if crash:
        env[CRASH_ENV] = crash
    done = subprocess.run([sys.executable, "-m", "flows.convert_all", "--local", "--config", str(pipeline)],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr


# --- the local executor itself ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Squares(Stage[int, int, int, StageOutcome[int]]):
    """Units 0..4 squared in a pool of two; unit `kill` kills its worker, unit 3 raises."""

    kill: int

    def plan(self) -> int:
        return 5

    def units(self, plan: int) -> list[int]:
        return list(range(plan))

    def run_unit(self, plan: int, unit: int, report: Report | None = None) -> int:  # noqa: ARG002
        if unit == self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        if unit == 3:
            raise ValueError("three")
        return unit * unit

    def workers(self, plan: int) -> int:  # noqa: ARG002
        return 2

    def conclude(self, plan: int, outcome: StageOutcome[int]) -> StageOutcome[int]:  # noqa: ARG002
        return outcome


def test_a_unit_that_kills_its_pool_worker_fails_alone_and_the_others_give_their_results() -> None:
    outcome = run_stage(Squares(kill=1), LocalExecutor())
    assert outcome.results == (0, 4, 16)
    assert [(f.unit, f.kind, f.message) for f in outcome.failures] == [
        ("1", "interrupted", ("1: not finished: its worker died before it finished (killed, or out of memory); "
                              "a rerun does it again")),
        ("3", "unexpected", "3: unexpected ValueError: three (the traceback is in the log)")]


# --- conversion ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bags")
    for name, seconds in (("a_good", 1.0), ("c_boom", 0.8), ("d_full", 0.9), ("e_good", 1.1)):
        write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=seconds, width=64, height=48))
    (folder / "b_random.bag").write_bytes(random.Random(1).randbytes(5000))
    return folder


def conversion_outcome(report: ConversionReport, out: Path) -> Outcome:
    return ([Path(b.bag).name for b in report.bags], failures(report.skipped, out),
            dataset_content(report.dataset.root))


def test_conversion_fails_each_bad_unit_alone_the_same_with_and_without_prefect(
        prefect_server: None, bags: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataprep.conversion import bag_to_episodes
    from flows.rosbag_to_lerobot import rosbag_to_lerobot

    outs = {"local": tmp_path / "local", "prefect": tmp_path / "prefect"}
    faults = {"c_boom.bag": RuntimeError("boom"), "d_full.bag": disk_full(tmp_path / "x")}
    inject(monkeypatch, bag_to_episodes, "_convert_bag", lambda _config, bag, *_: bag.name, faults)
    local = convert_dataset(kuavo_config(bags, outs["local"], "on_bag_error=skip"))
    flowed = rosbag_to_lerobot(kuavo_config(bags, outs["prefect"], "on_bag_error=skip"))
    outcome = conversion_outcome(local, tmp_path)
    assert outcome == conversion_outcome(flowed, tmp_path)
    names, failed, _ = outcome
    assert names == ["a_good.bag", "e_good.bag"]
    assert failed == [
        ("b_random.bag", "bad-input", (f"bag {bags / 'b_random.bag'}: the file is not a bag, or its header is "
                                       f"damaged (its first bytes are not a bag's text header)")),
        ("c_boom.bag", "unexpected", (f"bag {bags / 'c_boom.bag'}: unexpected RuntimeError: boom (the traceback "
                                      f"is in the log)")),
        ("d_full.bag", "disk-full", (f"bag {bags / 'd_full.bag'}: disk full while writing <out>/x: free space on "
                                     f"that disk (or point output_root elsewhere) and rerun; this bag is converted "
                                     f"again, the bags already staged are not")),
    ]


def test_a_conversion_killed_mid_bag_reruns_to_the_clean_dataset_with_and_without_prefect(
        prefect_server: None, tmp_path: Path) -> None:
    from flows.rosbag_to_lerobot import rosbag_to_lerobot

    folder = tmp_path / "bags"
    for name, seconds in (("a", 1.0), ("b", 1.2)):
        write_kuavo_bag(folder / f"{name}.bag", KuavoBagSpec(duration_s=seconds, width=64, height=48))
    clean = convert_dataset(kuavo_config(folder, tmp_path / "clean"))
    killed = kuavo_config(folder, tmp_path / "local")
    kill_mid_unit("rosbag_to_lerobot", killed.model_dump(mode="json"), tmp_path, "unit-reported")
    assert any((tmp_path / "local/.staging").iterdir()) and not (tmp_path / "local/test").exists()
    shutil.copytree(tmp_path / "local", tmp_path / "prefect", symlinks=True)
    local = convert_dataset(killed)
    flowed = rosbag_to_lerobot(kuavo_config(folder, tmp_path / "prefect"))
    expected = conversion_outcome(clean, tmp_path)
    assert conversion_outcome(local, tmp_path) == expected == conversion_outcome(flowed, tmp_path)


# --- GoPro preparation --------------------------------------------------------------------------------------

SEQUENCES = {"train/GOPR0001_00_00": "bad", "train/GOPR0002_00_00": "boom", "train/GOPR0003_00_00": "full",
             "train/GOPR0004_00_00": "good"}


def gopro_section(tmp_path: Path, out: Path) -> dict[str, Any]:
    gopro, spike = tmp_path / "raw/gopro", tmp_path / "raw/spike"
    if not gopro.exists():
        write_gopro_tree(gopro, spike, GoproTreeSpec({name: ["000001", "000002"] for name in SEQUENCES}))
    return {"gopro_root": str(gopro), "spike_root": str(spike), "output_root": str(out),
            "spike": {"encoding": "bytes", "frames": 4, "height": 6, "width": 8}, "voxels": {"bins": 2},
            "workers": 2}


def gopro_outcome(report: PrepareReport, out: Path) -> Outcome:
    as_json = {**report.as_json(), "output_root": None}
    tree = sorted((str(p.relative_to(out)), str(p.readlink()) if p.is_symlink() else p.stat().st_size)
                  for p in out.rglob("*") if (p.is_symlink() or p.is_file()) and p.name != "report.json")
    return as_json, failures(report.failures, out), tree


def blocked_gopro(tmp_path: Path, name: str) -> GoproPrepareConfig:
    out = tmp_path / name
    blocker = out / "train/GOPR0001_00_00/sharp/000001.png"  # a real file where a link goes: bad input
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"mine")
    return GoproPrepareConfig.model_validate(gopro_section(tmp_path, out))


def test_gopro_fails_each_bad_sequence_alone_the_same_with_and_without_prefect(
        prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataprep.gopro import prepare
    from flows.gopro_prepare import gopro_prepare

    faults = {"train/GOPR0002_00_00": RuntimeError("boom"),
              "train/GOPR0003_00_00": disk_full(tmp_path / "x")}
    inject(monkeypatch, prepare, "_prepare_sequence", lambda _config, job, *_: job.name, faults)
    local = prepare_tree(blocked_gopro(tmp_path, "local"))
    flowed = gopro_prepare(blocked_gopro(tmp_path, "prefect"))
    outcome = gopro_outcome(local, tmp_path / "local")
    assert outcome == gopro_outcome(flowed, tmp_path / "prefect")
    assert [(unit, kind) for unit, kind, _ in outcome[1]] == [
        ("GOPR0001_00_00", "bad-input"), ("GOPR0002_00_00", "unexpected"), ("GOPR0003_00_00", "disk-full")]
    assert outcome[0]["failed_sequences"]["train/GOPR0002_00_00"] == (
        "train/GOPR0002_00_00: unexpected RuntimeError: boom (the traceback is in the log)")
    assert "No space left on device" in outcome[0]["failed_sequences"]["train/GOPR0003_00_00"]
    assert list(outcome[0]["sequences"]) == ["train/GOPR0004_00_00"]


def test_a_gopro_run_killed_mid_sequence_reruns_to_the_clean_tree_with_and_without_prefect(
        prefect_server: None, tmp_path: Path) -> None:
    from flows.gopro_prepare import gopro_prepare

    clean = prepare_tree(GoproPrepareConfig.model_validate(gopro_section(tmp_path, tmp_path / "clean")))
    kill_mid_unit("gopro_prepare", gopro_section(tmp_path, tmp_path / "local"), tmp_path, "gopro-before-state")
    assert any((tmp_path / "local").rglob("*.png")) and not (tmp_path / "local/report.json").exists()
    shutil.copytree(tmp_path / "local", tmp_path / "prefect", symlinks=True)
    local = prepare_tree(GoproPrepareConfig.model_validate(gopro_section(tmp_path, tmp_path / "local")))
    flowed = gopro_prepare(GoproPrepareConfig.model_validate(gopro_section(tmp_path, tmp_path / "prefect")))
    expected = gopro_outcome(clean, tmp_path / "clean")
    assert gopro_outcome(local, tmp_path / "local")[1:] == expected[1:] == gopro_outcome(flowed,
                                                                                       tmp_path / "prefect")[1:]
    # the rerun finds the links the killed run made: they are unchanged, not created
    assert gopro_outcome(local, tmp_path / "local")[0] == gopro_outcome(flowed, tmp_path / "prefect")[0]


# --- HDF5 indexing ------------------------------------------------------------------------------------------

def hdf5_section(sources: Path, out: Path) -> dict[str, Any]:
    return {"sources": [{"kind": "replay", "paths": [str(sources / "replay")]},
                        {"kind": "segments", "paths": [str(sources / "points/*.h5")], "segment_size": 128}],
            "output_root": str(out), "image_cache": {"size": 24}}


def hdf5_outcome(report: IndexReport, out: Path) -> Outcome:
    summary = {key: value for key, value in summary_dict(report).items() if key not in {"index", "seconds"}}
    summary["files"] = [{**f, "cache": f["cache"] and Path(f["cache"]).name} for f in summary["files"]]
    return summary, failures(report.failures, out)


@pytest.fixture(scope="module")
def hdf5_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hdf5")
    write_sources(root)
    (root / "replay/broken.h5").write_bytes(b"\x00" * 64)  # bad input: not an HDF5 file
    return root


def test_hdf5_fails_each_bad_file_alone_the_same_with_and_without_prefect(
        prefect_server: None, hdf5_sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataprep.hdf5 import build
    from flows.hdf5_index import hdf5_index

    faults = {"s1.h5": RuntimeError("boom"), "s2.h5": disk_full(tmp_path / "x")}
    inject(monkeypatch, build, "scan_segments", lambda identity, *_: Path(identity.path).name, faults)
    local = build_index(Hdf5IndexConfig.model_validate(hdf5_section(hdf5_sources, tmp_path / "local")))
    flowed = hdf5_index(Hdf5IndexConfig.model_validate(hdf5_section(hdf5_sources, tmp_path / "prefect")))
    outcome = hdf5_outcome(local, tmp_path)
    assert outcome == hdf5_outcome(flowed, tmp_path)
    assert [(unit, kind) for unit, kind, _ in outcome[1]] == [
        ("broken.h5", "bad-input"), ("s1.h5", "unexpected"), ("s2.h5", "disk-full")]
    messages = [message for _, _, message in outcome[1]]
    assert messages[1] == f"{hdf5_sources / 'points/s1.h5'}: unexpected RuntimeError: boom (the traceback is in the log)"
    assert messages[2].startswith(f"{hdf5_sources / 'points/s2.h5'}: disk full while writing <out>/x: free space")
    assert [Path(f["path"]).name for f in outcome[0]["files"]] == ["a.h5", "b.hdf5", "s3.h5"]


def test_an_hdf5_run_killed_mid_file_reruns_to_the_clean_index_with_and_without_prefect(
        prefect_server: None, hdf5_sources: Path, tmp_path: Path) -> None:
    from flows.hdf5_index import hdf5_index

    sources = tmp_path / "sources"
    shutil.copytree(hdf5_sources, sources)
    (sources / "replay/broken.h5").unlink()
    clean = build_index(Hdf5IndexConfig.model_validate(hdf5_section(sources, tmp_path / "clean")))
    kill_mid_unit("hdf5_index", hdf5_section(sources, tmp_path / "local"), tmp_path, "hdf5-before-scan-saved")
    assert not (tmp_path / "local/index.h5").exists()
    shutil.copytree(tmp_path / "local", tmp_path / "prefect")
    local = build_index(Hdf5IndexConfig.model_validate(hdf5_section(sources, tmp_path / "local")))
    flowed = hdf5_index(Hdf5IndexConfig.model_validate(hdf5_section(sources, tmp_path / "prefect")))
    assert hdf5_outcome(local, tmp_path) == hdf5_outcome(clean, tmp_path) == hdf5_outcome(flowed, tmp_path)
