"""Flows and command: edit a LeRobot v3.0 dataset in place, crash-safely (docs/editing.md).

    python -m flows.edit_dataset trim ROOT --episode N --frames A:B
    python -m flows.edit_dataset delete ROOT --episodes N[,M...] | --failing

`OPERATIONS` is the one table of edits: each entry names its arguments (argparse), the library call the
command makes, and its Prefect flow (one per operation, each with an on-demand deployment in
deployments/prefect.yaml). The command calls the library directly, as validate_dataset does: no Prefect
start-up, no server. Flows are built on first access (PEP 562 `__getattr__`), for deployments.
"""

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.edit import EditError, EditSummary, delete_episodes, trim_episode
from flows.cli import run_cli


@dataclass(frozen=True)
class Operation:
    """One edit: its help, its arguments, the library call, and the name of its flow in this module."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    library_arguments: Callable[[argparse.Namespace], dict[str, Any]]  # parsed command line -> call's kwargs
    run: Callable[..., EditSummary]  # run(root, **kwargs)
    flow: str


def _episode_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--episodes {text!r}: expected N[,M...] (episode numbers)") from err


def _trim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--episode", type=int, required=True, help="the episode to trim")
    parser.add_argument("--frames", required=True, help="frames to keep, a Python slice A:B (e.g. 10:-5)")


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--episodes", type=_episode_list, help="episodes to delete, N[,M...]")
    which.add_argument("--failing", action="store_true", help="the quality report's failing episodes")


OPERATIONS: dict[str, Operation] = {
    "trim": Operation(
        "keep frames A..B-1 of one episode", _trim_arguments,
        lambda a: {"episode": a.episode, "frames": a.frames}, trim_episode, "trim_dataset_flow",
    ),
    "delete": Operation(
        "delete whole episodes", _delete_arguments,
        lambda a: {"episodes": a.episodes or [], "failing": a.failing}, delete_episodes, "delete_dataset_flow",
    ),
}  # fmt: skip


@functools.cache
def _build_flows() -> dict[str, Any]:
    from prefect import flow

    from tasks.editing import edit_task

    @flow(name="edit_dataset-trim")
    def trim_dataset_flow(root: str, episode: int | None = None, frames: str | None = None) -> EditSummary:
        """Keep frames A..B-1 (`frames` "A:B") of episode `episode` of the dataset at `root`."""
        if episode is None or frames is None:
            raise EditError("trim needs the parameters episode and frames (e.g. episode=3, frames='10:-10')")
        return edit_task("trim", trim_episode, Path(root), {"episode": episode, "frames": frames})

    @flow(name="edit_dataset-delete")
    def delete_dataset_flow(root: str, episodes: list[int] | None = None, failing: bool = False) -> EditSummary:
        """Delete `episodes` (or, with failing=True, the quality report's failing ones) from `root`."""
        return edit_task("delete", delete_episodes, Path(root), {"episodes": episodes or [], "failing": failing})

    return {"trim_dataset_flow": trim_dataset_flow, "delete_dataset_flow": delete_dataset_flow}


def __getattr__(name: str) -> Any:  # PEP 562: `from flows.edit_dataset import trim_dataset_flow`
    flows = _build_flows() if name.endswith("_dataset_flow") else {}
    if name in flows:
        return flows[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe(operation: str, summary: EditSummary) -> str:
    return (f"{operation}: {summary.root} now holds {summary.episodes} episode(s), {summary.frames} frames "
            f"({summary.linked_files} file(s) linked unchanged, {summary.reencoded_episodes} episode video(s) "
            "re-encoded)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m flows.edit_dataset", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    for name, operation in OPERATIONS.items():
        sub = commands.add_parser(name, help=operation.help, description=operation.help)
        sub.add_argument("root", help="the dataset folder (the one holding meta/info.json)")
        operation.add_arguments(sub)
        sub.add_argument("--again", action="store_true",
                         help="apply the edit even if it is the one that made the current version")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    operation = OPERATIONS[args.operation]
    kwargs = {**operation.library_arguments(args), "again": args.again}
    return run_cli(lambda: describe(args.operation, operation.run(Path(args.root), **kwargs)))


if __name__ == "__main__":
    sys.exit(main())
