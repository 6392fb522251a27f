"""`python -m flows.inspect_bags PATH... [--draft-config OUT.yaml]`: what the bags hold, before converting them.

Prints per topic its type, message count, rate, gaps (p95 and max), time span, and for images their encoding
and size; with `--draft-config` writes a pipeline configuration that `python -m flows.convert_all --config
OUT.yaml` converts as written. Reading is quick and touches nothing, so this command starts no Prefect run.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dataprep.conversion.containment import contained_failure
from dataprep.errors import DataprepError
from dataprep.inspect import draft_config, format_summary, inspect_bag
from dataprep.rosbag.discover import expand_bags
from dataprep.storage import write_bytes_atomic
from flows.cli import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.inspect_bags", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".bag files, rosbag2 folders, folders, globs")
    parser.add_argument("--draft-config", metavar="OUT.yaml", help="write a starting pipeline configuration")
    args = parser.parse_args(argv)

    def run() -> str:
        expansion = expand_bags(args.paths)
        bags = expansion.found
        summaries, readable = [], []
        failures = [f"bag {rejected.describe()}" for rejected in expansion.rejected]  # never opened
        for bag in bags:  # a bag that cannot be read is named, and the others are still shown
            try:
                summaries.append(inspect_bag(bag))
                readable.append(bag)
            except Exception as err:  # noqa: BLE001 - contained_failure names whatever went wrong in that bag
                failures.append(str(contained_failure(err, bag, Path.cwd())))
        text = "\n\n".join(format_summary(s) for s in summaries)
        if args.draft_config and summaries:
            out = Path(args.draft_config)
            if out.exists():
                raise DataprepError(f"{out} exists already; choose another name or remove it")
            write_bytes_atomic(out, draft_config(summaries, readable).encode())
            text += (f"\n\nwrote {out} from {len(readable)} bag(s); convert with: "
                     f"python -m flows.convert_all --config {out}")
        if failures:
            print(text)
            raise DataprepError(f"{len(failures)} of {len(bags) + len(expansion.rejected)} bag(s) cannot be read:\n"
                                + "\n".join(failures))
        return text

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
