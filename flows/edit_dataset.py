"""Flow: edit a committed LeRobot dataset without converting its bags again.

    python -m flows.edit_dataset compact ROOT      # merge the partly filled files appends leave behind

A thin command line over `OPERATIONS`: each operation names its arguments and the library call that does
the work (`dataprep.edit`), so the command runs without Prefect. The flow, `edit_dataset_flow`, runs the
same call as a task, for the on-demand deployment (deployments/prefect.yaml).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError


@dataclass(frozen=True)
class Operation:
    """One edit: what it says in --help, how it adds its arguments, and the call that runs it."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], str]  # returns the line printed for people


def _compact_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="the dataset folder (the one holding meta/info.json)")


def _compact(args: argparse.Namespace) -> str:
    from dataprep.edit.compact import compact_dataset

    summary = compact_dataset(Path(args.root))
    if not summary.changed:
        return f"{summary.root}: nothing to compact ({_files(summary.before)})"
    return f"{summary.root}: compacted {_files(summary.before)} -> {_files(summary.after)}"


def _files(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


OPERATIONS: dict[str, Operation] = {
    "compact": Operation("merge partly filled data, video and episodes files (no re-encoding)",
                         _compact_arguments, _compact),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m flows.edit_dataset", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="operation", required=True)
    for name, operation in OPERATIONS.items():
        operation.arguments(commands.add_parser(name, help=operation.help, description=operation.help))
    return top


def configured_root(config_path: str, overrides: Sequence[str] = ()) -> str:
    """The dataset the configuration's rosbag_to_lerobot section writes: what the deployment edits."""
    from dataprep.config import PipelineConfig, load_config

    section = load_config(PipelineConfig, Path(config_path), list(overrides)).rosbag_to_lerobot
    if section is None:
        raise DataprepError(f"{config_path} has no rosbag_to_lerobot section: give the dataset folder as argv")
    return str(section.dataset_root)


@functools.cache
def _build_flow() -> Callable[..., str]:
    from prefect import flow, task

    @task(name="edit-dataset")
    def edit_task(operation: str, argv: list[str]) -> str:
        args = parser().parse_args([operation, *argv])
        return OPERATIONS[operation].run(args)

    @flow(name="edit_dataset")
    def edit_dataset_flow(operation: str = "compact", argv: list[str] | None = None,
                          config_path: str = "configs/default.yaml", overrides: list[str] | None = None) -> str:
        """Run one edit with its command-line arguments `argv`; without them, on the configured dataset."""
        return edit_task(operation, list(argv) if argv else [configured_root(config_path, overrides or [])])

    return edit_dataset_flow


def __getattr__(name: str) -> Any:  # PEP 562: `from flows.edit_dataset import edit_dataset_flow`
    if name == "edit_dataset_flow":
        return _build_flow()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(OPERATIONS[args.operation].run(args))
    except DataprepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
