"""Entry point: `python -m flows.convert_all [--config PATH] [--set key.path=value ...] [--local]`.

Runs every stage the pipeline configuration has a section for and prints where each result is and what it
holds. With no arguments it converts the bundled sample with `configs/default.yaml`. Run as a command, it
decides before importing Prefect whether to use it at all (see flows/launch.py); the `convert_all` flow below
is what deployments and configured servers run.
"""

import sys

if __name__ == "__main__":  # a one-off without a Prefect server never imports Prefect
    from flows.launch import main

    sys.exit(main())

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from prefect import flow

from dataprep.config import PipelineConfig, load_config
from flows import gopro_prepare, hdf5_index, rosbag_to_lerobot
from flows.cli import DEFAULT_CONFIG
from flows.launch import main, run_stages
from flows.run_names import pipeline_run_name
from tasks.artifacts import artifact_key
from tasks.reporting import MemoryMonitor, logged_stage, record_pipeline_outcome, record_run_report

__all__ = ["STAGES", "Stage", "convert_all", "main"]


class Stage(NamedTuple):
    """A pipeline stage: its flow (called with the config section), what to print of its result, and where
    its section writes (keys the summary and link artifacts on the pipeline's run page)."""

    run: Callable[[Any], Any]
    describe: Callable[[Any], str]
    output: Callable[[Any], Path] | None = None


# One entry per section of PipelineConfig, run in this order.
STAGES: dict[str, Stage] = {
    "rosbag_to_lerobot": Stage(rosbag_to_lerobot.rosbag_to_lerobot, rosbag_to_lerobot.describe,
                               lambda section: section.dataset_root),
    "gopro_prepare": Stage(gopro_prepare.run_stage, gopro_prepare.describe, lambda section: section.output_root),
    "hdf5_index": Stage(hdf5_index.run_stage, hdf5_index.describe, lambda section: section.output_root),
}


@flow(name="convert_all", flow_run_name=pipeline_run_name)
def convert_all(config_path: str = str(DEFAULT_CONFIG), overrides: list[str] | None = None,
                stages: list[str] | None = None) -> dict[str, Any]:
    """Load the pipeline configuration and run each configured stage (or only `stages`) as a subflow.

    A stage that fails on bad input does not stop the stages after it: its error is its result. This run's
    own page gets what a person checks first: INFO logs, each stage's summary and a link to its output.
    """
    config, started = load_config(PipelineConfig, Path(config_path), overrides or []), datetime.now(UTC)
    with MemoryMonitor(artifact_key("run", Path(config_path).resolve()), f"pipeline {config_path}",
                       progress=False) as monitor:
        runners = {name: logged_stage(name, stage.run, stage.output) for name, stage in STAGES.items()}
        results = run_stages(config, runners, stages)
    record_pipeline_outcome(config, config_path, results, {name: (stage.describe, stage.output)
                                                   for name, stage in STAGES.items()})
    record_run_report(config, config_path, results, {n: (s.describe, s.output) for n, s in STAGES.items()}, runners,
                      monitor, started)
    return results
