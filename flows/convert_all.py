"""Entry point: `python -m flows.convert_all [--config PATH] [--set key.path=value ...]`.

Runs every stage the pipeline configuration has a section for and prints where each
result is and what it holds. With no arguments it converts the bundled sample with `configs/default.yaml`.
"""

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from prefect import flow

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError
from flows import gopro_prepare, hdf5_index, rosbag_to_lerobot
from flows.cli import DEFAULT_CONFIG, load_pipeline, run_cli, stage_parser


class Stage(NamedTuple):
    """A pipeline stage: its flow (called with the config section) and what to print of its result."""

    run: Callable[[Any], Any]
    describe: Callable[[Any], str]


# One entry per section of PipelineConfig, run in this order.
STAGES: dict[str, Stage] = {
    "rosbag_to_lerobot": Stage(rosbag_to_lerobot.rosbag_to_lerobot, rosbag_to_lerobot.describe),
    "gopro_prepare": Stage(gopro_prepare.run_stage, gopro_prepare.describe),
    "hdf5_index": Stage(hdf5_index.hdf5_index, hdf5_index.describe),
}


@flow(name="convert_all")
def convert_all(config_path: str = str(DEFAULT_CONFIG), overrides: list[str] | None = None) -> dict[str, Any]:
    """Load the pipeline configuration and run each configured stage as a subflow, in STAGES order.

    A stage that fails on bad input does not stop the stages after it: its error is its result.
    """
    config = load_config(PipelineConfig, Path(config_path), overrides or [])
    results: dict[str, Any] = {}
    for name, stage in STAGES.items():
        section = getattr(config, name)
        if section is None:
            continue
        try:
            results[name] = stage.run(section)
        except DataprepError as err:
            results[name] = err
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser("python -m flows.convert_all", __doc__.split("\n\n")[0]).parse_args(argv)

    def run() -> str:
        load_pipeline(args)  # a bad file fails before Prefect starts
        results = convert_all(args.config, args.overrides)
        if not results:
            return f"{args.config} configures no stage; nothing to do"
        failed = {name: result for name, result in results.items() if isinstance(result, DataprepError)}
        print("\n".join(STAGES[name].describe(result) for name, result in results.items() if name not in failed))
        if failed:
            raise DataprepError("\n".join(f"{name}: {error}" for name, error in failed.items()))
        return ""

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
