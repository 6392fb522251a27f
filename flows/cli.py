"""The command line every flow module shares: `--config PATH`, repeatable `--set key.path=value`.

The configuration is loaded and validated here, before any flow starts, so a bad file fails in a moment
with one message instead of after Prefect's start; bad input found later is printed as one `error:` line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


def stage_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the shared options; a flow adds its own (e.g. `--dry-run`) before parsing."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline configuration (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a configuration value, e.g. rosbag_to_lerobot.fps=15 (repeatable)")
    return parser


def load_pipeline(args: argparse.Namespace) -> PipelineConfig:
    return load_config(PipelineConfig, Path(args.config), args.overrides)


def load_section(args: argparse.Namespace, stage: str) -> Any:
    """The validated section of one stage; an error naming the file when the section is absent."""
    section = getattr(load_pipeline(args), stage)
    if section is None:
        raise DataprepError(f"{args.config} has no {stage!r} section; add one or pass a configuration that has it")
    return section


def run_cli(action: Callable[[], str]) -> int:
    """Run `action` and print what it returns; bad input becomes one `error:` line and exit status 2."""
    try:
        text = action()
    except DataprepError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if text:
        print(text)
    return 0
