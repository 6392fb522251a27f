"""`python -m flows.memory_report [--config PATH]`: the memory plan of every stage, before running any.

Prints one row per stage (need, available, strategy, chunk size, workers, the settings to pass on).
`--sweep chunk_size=100,300,1000,3000 --bag PATH` converts that bag once per chunk size, each in a fresh
process, and prints the measured peak RSS and time beside the estimate. Under a configured Prefect server
(see flows/launch.py) both are runs of the `memory_report` flow, recorded as artifacts; without one, or with
`--local`, they run as plain library calls and nothing is recorded.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from dataprep.config import PipelineConfig
from dataprep.conversion.memory_sweep import SweepRow, sweep_chunk_sizes
from dataprep.errors import DataprepError
from dataprep.memory import StagePlan, memory_report, read_system, resolve_workers
from dataprep.pipeline_plan import plan_pipeline
from flows.cli import load_pipeline, run_cli, stage_parser
from flows.launch import LOCAL_NOTICE, configured_api_url
from tasks.artifacts import markdown_table
from tasks.memory import memory_plan_task, memory_sweep_task


def parse_sweep(text: str) -> list[int]:
    """`chunk_size=100,300,1000`: the chunk sizes to measure."""
    key, _, values = text.partition("=")
    if key.strip() != "chunk_size" or not values:
        raise DataprepError(f"--sweep {text!r}: give chunk_size=N,N,... (e.g. chunk_size=100,300,1000,3000)")
    try:
        return [int(v) for v in values.split(",")]
    except ValueError:
        raise DataprepError(f"--sweep {text!r}: chunk sizes must be integers") from None


def describe(plans: Sequence[StagePlan], sweep: Sequence[SweepRow] | None) -> str:
    """This machine's memory, the plan's table and the sweep's, for the console."""
    text = memory_report().format() + "\n\n"
    text += markdown_table([p.as_row() for p in plans]) if plans else "no stage configured\n"
    if sweep is not None:
        text += "\nchunk-size sweep (each conversion a fresh process; estimate vs measured peak RSS):\n"
        text += markdown_table([row.as_row() for row in sweep])
    return text.rstrip()


@flow(name="memory_report")
def memory_report_flow(config: PipelineConfig, config_path: str, loader_workers: int,
                       sweep: list[int] | None = None, bag: str | None = None) -> tuple[list[StagePlan],
                                                                                       list[SweepRow] | None]:
    """The plan of every stage as an artifact; with `sweep`, the measured chunk sizes as another."""
    system = read_system()
    plans = memory_plan_task(config, Path(config_path), system, loader_workers)
    rows = None
    if sweep:
        assert config.rosbag_to_lerobot is not None and bag is not None
        with tempfile.TemporaryDirectory(prefix="memory-sweep-") as workdir:
            rows = memory_sweep_task(config.rosbag_to_lerobot, Path(bag), sweep, Path(workdir))
    return plans, rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser("python -m flows.memory_report", "Print the memory plan of every stage of a pipeline "
                          "configuration; with --sweep, measure a bag's conversion at several chunk sizes.")
    parser.add_argument("--sweep", metavar="chunk_size=N,N,...", help="chunk sizes to convert --bag with")
    parser.add_argument("--bag", help="the bag the sweep converts (with the rosbag_to_lerobot section's settings)")
    parser.add_argument("--loader-workers", default="auto",
                        help="DataLoader workers the readers are planned for (int, auto, cpu*RATIO)")
    parser.add_argument("--local", action="store_true", help="without Prefect even when a server is configured")
    args = parser.parse_args(argv)

    def run() -> str:
        config = load_pipeline(args)
        workers = resolve_workers(args.loader_workers, minimum=0)
        sweep = parse_sweep(args.sweep) if args.sweep else None
        if sweep and (args.bag is None or config.rosbag_to_lerobot is None):
            raise DataprepError("--sweep needs --bag PATH and a rosbag_to_lerobot section in the configuration")
        if not args.local and configured_api_url() is not None:
            plans, rows = memory_report_flow(config, args.config, workers, sweep, args.bag)
            return describe(plans, rows)
        if not args.local:
            print(LOCAL_NOTICE, file=sys.stderr)
        system = read_system()
        plans = plan_pipeline(config, system, workers)
        rows = None
        if sweep and config.rosbag_to_lerobot is not None and args.bag is not None:
            with tempfile.TemporaryDirectory(prefix="memory-sweep-") as workdir:
                rows = sweep_chunk_sizes(config.rosbag_to_lerobot, Path(args.bag), sweep, Path(workdir))
        return describe(plans, rows)

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
