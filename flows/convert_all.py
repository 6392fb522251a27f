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

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow

from dataprep.config import PipelineConfig, load_config
from flows.cli import DEFAULT_CONFIG
from flows.launch import main
from flows.run_names import pipeline_run_name
from flows.stages import STAGES, run_stages
from tasks.artifacts import artifact_key
from tasks.reporting import MemoryMonitor, logged_stage, record_pipeline_outcome, record_run_report

__all__ = ["convert_all", "main"]


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
        runners = {name: logged_stage(name, stage.run_flow, stage.output) for name, stage in STAGES.items()}
        results = run_stages(config, runners, stages)
    record_pipeline_outcome(config, config_path, results, {name: (stage.describe, stage.output)
                                                   for name, stage in STAGES.items()})
    record_run_report(config, config_path, results, {n: (s.describe, s.output) for n, s in STAGES.items()}, runners,
                      monitor, started)
    return results
