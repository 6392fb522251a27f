"""Entry point: `python -m flows.convert_all [--config PATH] [--set key.path=value ...]`.

Runs every stage the pipeline configuration names (today: `rosbag_to_lerobot`) and prints where each
result is and what it holds. With no arguments it converts the bundled sample with `configs/default.yaml`.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from prefect import flow

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError
from dataprep.conversion import ConversionReport
from flows.rosbag_to_lerobot import rosbag_to_lerobot

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@flow(name="convert_all")
def convert_all(config_path: str = str(DEFAULT_CONFIG), overrides: list[str] | None = None) -> dict[str, ConversionReport]:
    """Load the pipeline configuration and run each configured stage as a subflow."""
    config = load_config(PipelineConfig, Path(config_path), overrides or [])
    results: dict[str, ConversionReport] = {}
    if config.rosbag_to_lerobot is not None:
        results["rosbag_to_lerobot"] = rosbag_to_lerobot(config.rosbag_to_lerobot)
    return results


def describe(report: ConversionReport) -> str:
    """What a user wants to see after a run: where the dataset is, what it holds, and what was dropped."""
    summary = report.dataset
    info = json.loads((summary.root / "meta" / "info.json").read_text())
    lines = [f"dataset {summary.repo_id} at {summary.root.resolve()}",
             f"  {summary.episodes} episode(s), {summary.frames} frames at {summary.fps} fps "
             f"({summary.frames / summary.fps:.1f} s), {len(summary.tasks)} task(s)"]
    for key, feature in info["features"].items():
        lines.append(f"  {key}: {feature['dtype']} {feature['shape']}")
    for bag in report.bags:
        reused = ", staged by an earlier run" if bag.reused else ""
        lines.append(f"  {bag.bag}: {bag.frames} frames kept, {sum(bag.dropped.values())} dropped{reused}")
        lines += [f"    dropped {count}: {reason}" for reason, count in bag.dropped.items()]
    for failure in report.skipped:
        lines.append(f"  {failure.bag}: SKIPPED (on_bag_error: skip): {failure.error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.convert_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline configuration (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a configuration value, e.g. rosbag_to_lerobot.fps=15 (repeatable)")
    args = parser.parse_args(argv)
    try:
        load_config(PipelineConfig, Path(args.config), args.overrides)  # a bad file fails before Prefect starts
        results = convert_all(args.config, args.overrides)
    except DataprepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not results:
        print(f"{args.config} configures no stage; nothing to do")
    for report in results.values():
        print(describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
