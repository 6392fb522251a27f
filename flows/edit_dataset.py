"""Flows and command: edit a LeRobot v3.0 dataset in place, crash-safely (docs/editing.md).

    python -m flows.edit_dataset trim ROOT --episode N --frames A:B
    python -m flows.edit_dataset delete ROOT --episodes N[,M...] | --failing
    python -m flows.edit_dataset split ROOT --val-episodes N[,M...] | --val-share F [--seed S] --into TRAIN VAL
    python -m flows.edit_dataset merge SRC SRC... --into DEST
    python -m flows.edit_dataset compact ROOT      # merge the partly filled files appends leave behind

`OPERATIONS` is the one table of edits: each entry names its arguments (argparse, positionals included),
how they become the library call's keyword arguments, the call, and its Prefect flow (one per operation,
each with an on-demand deployment in deployments/prefect.yaml). The command calls the library directly, as
validate_dataset does: no Prefect start-up, no server. Flows are built on first access (PEP 562
`__getattr__`), for deployments.
"""

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.config import PipelineConfig, load_config
from dataprep.edit import EditError, EditSummary, delete_episodes, merge_datasets, split_dataset, trim_episode
from dataprep.edit.compact import CompactionSummary, compact_dataset
from flows.cli import run_cli

Result = EditSummary | tuple[EditSummary, ...] | CompactionSummary  # split makes two datasets


@dataclass(frozen=True)
class Operation:
    """One edit: its help, its arguments, the library call, and the name of its flow in this module."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    library_arguments: Callable[[argparse.Namespace], dict[str, Any]]  # parsed command line -> call's kwargs
    run: Callable[..., Any]  # run(**kwargs) -> EditSummary (split: one per part), CompactionSummary
    flow: str
    repeatable: bool = True  # an edit that made the current version is skipped unless --again (compaction: moot)


def _episode_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--episodes {text!r}: expected N[,M...] (episode numbers)") from err


def _root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="the dataset folder (the one holding meta/info.json)")


def _trim_arguments(parser: argparse.ArgumentParser) -> None:
    _root(parser)
    parser.add_argument("--episode", type=int, required=True, help="the episode to trim")
    parser.add_argument("--frames", required=True, help="frames to keep, a Python slice A:B (e.g. 10:-5)")


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    _root(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--episodes", type=_episode_list, help="episodes to delete, N[,M...]")
    which.add_argument("--failing", action="store_true", help="the quality report's failing episodes")


def _split_arguments(parser: argparse.ArgumentParser) -> None:
    _root(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--val-episodes", type=_episode_list, help="the validation episodes, N[,M...]")
    which.add_argument("--val-share", type=float, help="share of episodes drawn for validation, e.g. 0.1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw with --val-share (default 0)")
    parser.add_argument("--into", type=Path, nargs=2, required=True, metavar=("TRAIN", "VAL"),
                        help="the two new dataset folders")


def _merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", type=Path, nargs="+", metavar="SRC", help="datasets to merge, in order")
    parser.add_argument("--into", type=Path, required=True, metavar="DEST", help="the new dataset folder")


OPERATIONS: dict[str, Operation] = {
    "trim": Operation(
        "keep frames A..B-1 of one episode", _trim_arguments,
        lambda a: {"root": a.root, "episode": a.episode, "frames": a.frames}, trim_episode, "trim_dataset_flow",
    ),
    "delete": Operation(
        "delete whole episodes", _delete_arguments,
        lambda a: {"root": a.root, "episodes": a.episodes or [], "failing": a.failing}, delete_episodes,
        "delete_dataset_flow",
    ),
    "split": Operation(
        "split into a train and a validation dataset", _split_arguments,
        lambda a: {"root": a.root, "into": tuple(a.into), "val_episodes": a.val_episodes or [],
                   "val_share": a.val_share, "seed": a.seed}, split_dataset, "split_dataset_flow",
    ),
    "merge": Operation(
        "merge datasets of equal features and fps into a new one", _merge_arguments,
        lambda a: {"roots": a.sources, "into": a.into}, merge_datasets, "merge_dataset_flow",
    ),
    "compact": Operation(
        "merge partly filled data, video and episodes files (no re-encoding)", _root,
        lambda a: {"root": a.root}, compact_dataset, "compact_dataset_flow", repeatable=False,
    ),
}  # fmt: skip


def configured_root(config_path: str, overrides: Sequence[str] = ()) -> Path:
    """The dataset the configuration's rosbag_to_lerobot section writes: what the compact deployment edits."""
    section = load_config(PipelineConfig, Path(config_path), list(overrides)).rosbag_to_lerobot
    if section is None:
        raise EditError(f"{config_path} has no rosbag_to_lerobot section: give the dataset folder as root")
    return section.dataset_root


@functools.cache
def _build_flows() -> dict[str, Any]:
    from prefect import flow

    from tasks.editing import edit_task

    @flow(name="edit_dataset-trim")
    def trim_dataset_flow(root: str, episode: int | None = None, frames: str | None = None) -> Result:
        """Keep frames A..B-1 (`frames` "A:B") of episode `episode` of the dataset at `root`."""
        if episode is None or frames is None:
            raise EditError("trim needs the parameters episode and frames (e.g. episode=3, frames='10:-10')")
        return edit_task("trim", trim_episode, Path(root), {"root": Path(root), "episode": episode, "frames": frames})

    @flow(name="edit_dataset-delete")
    def delete_dataset_flow(root: str, episodes: list[int] | None = None, failing: bool = False) -> Result:
        """Delete `episodes` (or, with failing=True, the quality report's failing ones) from `root`."""
        return edit_task("delete", delete_episodes, Path(root),
                         {"root": Path(root), "episodes": episodes or [], "failing": failing})

    @flow(name="edit_dataset-split")
    def split_dataset_flow(root: str, train: str | None = None, val: str | None = None,
                           val_episodes: list[int] | None = None, val_share: float | None = None,
                           seed: int = 0) -> Result:
        """Split `root` into the new datasets `train` and `val` (episodes listed, or a seeded share)."""
        if train is None or val is None:
            raise EditError("split needs the parameters train and val (the two new dataset folders)")
        arguments = {"root": Path(root), "into": (Path(train), Path(val)), "val_episodes": val_episodes or [],
                     "val_share": val_share, "seed": seed}
        return edit_task("split", split_dataset, Path(root), arguments)

    @flow(name="edit_dataset-merge")
    def merge_dataset_flow(sources: list[str] | None = None, into: str | None = None) -> Result:
        """Merge the datasets `sources` (in order) into the new dataset `into`."""
        if not sources or into is None:
            raise EditError("merge needs the parameters sources (two or more dataset folders) and into")
        return edit_task("merge", merge_datasets, Path(into), {"roots": [Path(s) for s in sources], "into": Path(into)})

    @flow(name="edit_dataset-compact")
    def compact_dataset_flow(root: str | None = None, config_path: str = "configs/default.yaml") -> Result:
        """Compact the dataset at `root` (default: the one `config_path`'s conversion section writes)."""
        folder = Path(root) if root else configured_root(config_path)
        return edit_task("compact", compact_dataset, folder, {"root": folder})

    return {"trim_dataset_flow": trim_dataset_flow, "delete_dataset_flow": delete_dataset_flow,
            "split_dataset_flow": split_dataset_flow, "merge_dataset_flow": merge_dataset_flow,
            "compact_dataset_flow": compact_dataset_flow}


def __getattr__(name: str) -> Any:  # PEP 562: `from flows.edit_dataset import trim_dataset_flow`
    flows = _build_flows() if name.endswith("_dataset_flow") else {}
    if name in flows:
        return flows[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _files(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def describe(operation: str, result: Result) -> str:
    if isinstance(result, CompactionSummary):
        if not result.changed:
            return f"{result.root}: nothing to compact ({_files(result.before)})"
        return f"{result.root}: compacted {_files(result.before)} -> {_files(result.after)}"
    if isinstance(result, tuple):
        return "\n".join(describe(operation, part) for part in result)
    summary = result
    return (f"{operation}: {summary.root} now holds {summary.episodes} episode(s), {summary.frames} frames "
            f"({summary.linked_files} file(s) linked unchanged, {summary.reencoded_episodes} episode video(s) "
            "re-encoded)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m flows.edit_dataset", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="operation", required=True, metavar="OPERATION")
    for name, operation in OPERATIONS.items():
        sub = commands.add_parser(name, help=operation.help, description=operation.help)
        operation.add_arguments(sub)
        if operation.repeatable:
            sub.add_argument("--again", action="store_true",
                             help="apply the edit even if it is the one that made the current version")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    operation = OPERATIONS[args.operation]
    kwargs = operation.library_arguments(args)
    if operation.repeatable:
        kwargs["again"] = args.again
    return run_cli(lambda: describe(args.operation, operation.run(**kwargs)))


if __name__ == "__main__":
    sys.exit(main())
