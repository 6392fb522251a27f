"""Flow: check a LeRobot v3.0 dataset folder (ours or anyone's) and say what is wrong.

    python -m flows.validate_dataset PATH [--json] [--decode-all]

Prints a table (or JSON with --json); exit status 0 when nothing was found, 1 otherwise. The command calls
the library directly and never imports Prefect (about a second of start-up, longer than checking a 200 s
dataset takes); the flow, `validate_dataset_flow`, is built on first access for deployments and other
flows (the conversion flow runs the same task on what it just wrote).
"""

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dataprep.validate import ValidationReport, validate_dataset


@functools.cache
def _build_flow() -> Callable[..., ValidationReport]:
    from prefect import flow

    from tasks.validation import validate_dataset_task

    @flow(name="validate_dataset")
    def validate_dataset_flow(root: str, decode_all: bool = False) -> ValidationReport:
        """Validate one folder and record the result as an artifact keyed by the folder."""
        return validate_dataset_task(Path(root), decode_all)

    return validate_dataset_flow


def __getattr__(name: str) -> Any:  # PEP 562: `from flows.validate_dataset import validate_dataset_flow`
    if name == "validate_dataset_flow":
        return _build_flow()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.validate_dataset", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("path", help="the dataset folder (the one holding meta/info.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON, for machines")
    parser.add_argument(
        "--decode-all",
        action="store_true",
        help="decode every video frame, not only the first and last of each episode",
    )
    args = parser.parse_args(argv)
    report = validate_dataset(Path(args.path), decode_all=args.decode_all)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
