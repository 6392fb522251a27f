"""Several bags at once give exactly the dataset one bag at a time gives: in the library, the flow and on Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import dataset_content, kuavo_config, write_bags
from test_flows import read_artifact

from dataprep.config import ConvertConfig
from dataprep.conversion import ChunkReport, ConversionReport, convert_dataset, plan_conversion
from dataprep.conversion.staging import bag_key
from dataprep.conversion.workers import plan_bag_workers
from dataprep.memory import MB, cpu_count
from flows.rosbag_to_lerobot import rosbag_to_lerobot
from tasks.artifacts import artifact_key


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 good bags and a broken one (last in plan order), which every run skips, wherever it fails."""
    folder = write_bags(tmp_path_factory.mktemp("bags"))
    (folder / "bag_9_broken.bag").write_bytes(b"#ROSBAG V2.0\n")
    return folder


def skipping(bags: Path, out: Path, *overrides: str) -> ConvertConfig:
    return kuavo_config(bags, out, "on_bag_error=skip", *overrides)


def only_the_broken_bag_skipped(report: ConversionReport) -> bool:
    return [Path(failure.unit).name for failure in report.skipped] == ["bag_9_broken.bag"]


@pytest.fixture(scope="module")
def one_worker(bags: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference: the 8 bags converted one after another in this process."""
    report = convert_dataset(skipping(bags, tmp_path_factory.mktemp("one")))
    assert report.dataset.episodes == 8 and only_the_broken_bag_skipped(report)
    return dataset_content(report.dataset.root)


def test_two_workers_in_the_library_give_the_same_dataset_as_one(bags: Path, one_worker: dict[str, Any],
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative output_root is made absolute before the workers start
    chunks: list[ChunkReport] = []
    report = convert_dataset(skipping(bags, Path("out"), "max_workers=2", "chunk_size=4"), on_chunk=chunks.append)
    assert report.dataset.root == tmp_path / "out/test/parallel"
    assert [Path(b.bag).name for b in report.bags] == [f"bag_{i}.bag" for i in range(8)]  # plan order
    assert dataset_content(report.dataset.root) == one_worker and only_the_broken_bag_skipped(report)
    assert {Path(c.bag).name for c in chunks} == {f"bag_{i}.bag" for i in range(8)}  # relayed from the workers
    assert {c.memory.rss for c in chunks} and all(c.memory.rss > 0 for c in chunks)


def test_two_process_workers_in_the_flow_give_the_same_dataset_as_one(bags: Path, one_worker: dict[str, Any],
                                                                     tmp_path: Path, prefect_server: None) -> None:
    config = skipping(bags, tmp_path, "max_workers=2")
    report = rosbag_to_lerobot(config)
    assert dataset_content(report.dataset.root) == one_worker and only_the_broken_bag_skipped(report)
    key = artifact_key(config.dataset_root.resolve(), bag_key(bags / "bag_7.bag", config))
    rows = json.loads(read_artifact(artifact_key("memory", key)).data)  # recorded by the worker process
    assert rows[-1]["event"] == "end" and all(r["rss_mb"] > 0 for r in rows)


def test_a_local_dask_cluster_of_two_processes_runs_the_flow(bags: Path, one_worker: dict[str, Any], tmp_path: Path,
                                                            prefect_server: None) -> None:
    report = rosbag_to_lerobot(skipping(bags, tmp_path, "task_runner.dask.n_workers=2"))
    assert dataset_content(report.dataset.root) == one_worker and only_the_broken_bag_skipped(report)


def workers_of(*overrides: str, bags: int = 8, cpus: int = 2) -> tuple[int, int]:
    config = kuavo_config(Path("x.bag"), Path("out"), *overrides)
    decided = plan_bag_workers(config, bags, cpus=cpus)
    return decided.workers, decided.encoder_threads


def test_auto_workers_follow_cores_and_bags_and_share_the_cores_among_encoders() -> None:
    assert workers_of("max_workers=auto", cpus=8) == (8, 1)
    assert workers_of("max_workers=auto", cpus=8, bags=3) == (3, 2)  # never more workers than bags
    assert workers_of("max_workers=1", cpus=8) == (1, 0)  # one worker: no pool, the codec takes every core
    assert workers_of("max_workers=16", cpus=4) == (8, 1)
    assert workers_of("task_runner.dask.n_workers=3", cpus=6) == (3, 2)
    assert workers_of("task_runner.dask.address=tcp://h:8786", bags=5) == (5, 0)
    with pytest.raises(ValueError, match=r"either address .* or n_workers"):
        ConvertConfig.model_validate({**kuavo_config(Path("x.bag"), Path("o")).model_dump(),
                                      "task_runner": {"dask": {"address": "tcp://h:1", "n_workers": 2}}})


def test_the_plan_lowers_auto_workers_to_what_the_memory_plan_fits(bags: Path, tmp_path: Path) -> None:
    """`max_workers: auto` is settled once, by the memory plan (one figure per bag), before any bag is read."""
    config = skipping(bags, tmp_path, "max_workers=auto", "chunk_size=auto")
    plenty = plan_conversion(config)
    assert plenty.config.max_workers == plenty.memory.workers == min(cpu_count(), len(plenty.bags))
    per_worker = plenty.memory.estimate.per_worker
    one = plan_conversion(skipping(bags, tmp_path, "max_workers=auto", "chunk_size=auto",
                                   f"memory_budget_mb={int(1.5 * per_worker / MB)}"))
    assert one.config.max_workers == one.memory.workers == 1 and isinstance(one.config.chunk_size, int)
    assert "1 worker(s) (auto)" in one.memory.reasoning
