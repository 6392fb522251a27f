"""How `python -m flows.convert_all` runs a one-off: on the configured Prefect server, or without Prefect.

With no server configured, Prefect 3 starts a temporary local server for every flow run (8-15 s and ~270 MB
here) and throws it away afterwards, so a one-off paid most of its time for a record nobody could open. So:

- a Prefect server is configured (`PREFECT_API_URL` in the environment or in the active Prefect profile, as
  `prefect config set` writes it): the run goes through Prefect and is recorded there, as scheduled runs are;
- none is configured, or `--local` is given: every stage runs as a plain library call in this process,
  Prefect is never imported, and one line on stderr says so.

This module therefore imports nothing from Prefect at module level, and reads the profile file itself
(importing Prefect only to read a setting costs ~0.6 s and ~65 MB).
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from dataprep.config import PipelineConfig
from dataprep.conversion import ConversionReport, convert_dataset
from dataprep.errors import DataprepError
from dataprep.gopro import prepare_tree, raise_for_failures
from dataprep.hdf5 import build_index
from dataprep.sample.missing import write_missing_samples
from dataprep.validate import ValidationReport, validate_dataset
from flows.cli import load_pipeline, run_cli, stage_parser
from flows.summaries import describe_conversion, describe_gopro, describe_index, raise_for_index_failures

LOCAL_NOTICE = ("no Prefect server configured: running without Prefect, nothing is recorded "
                "(docs/scheduled-runs.md says how to keep runs in the Prefect UI)")


class LocalStage(NamedTuple):
    """A stage run without Prefect: the library call its flow wraps, and what to print of its result."""

    run: Callable[[Any], Any]
    describe: Callable[[Any], str]


def convert_and_validate(config: Any) -> tuple[ConversionReport, ValidationReport]:
    """The conversion, then the validator on what it wrote, as the flow does (there, as an artifact)."""
    report = convert_dataset(config)
    return report, validate_dataset(report.dataset.root)


def describe_validated(result: tuple[ConversionReport, ValidationReport]) -> str:
    report, validation = result
    return f"{describe_conversion(report)}\n  validation: {validation.table()}"


# One entry per section of PipelineConfig that can run without Prefect. A configured stage missing here
# makes the whole one-off go through Prefect (and say why).
LOCAL_STAGES: dict[str, LocalStage] = {
    "rosbag_to_lerobot": LocalStage(convert_and_validate, describe_validated),
    "gopro_prepare": LocalStage(lambda config: raise_for_failures(prepare_tree(config)), describe_gopro),
    "hdf5_index": LocalStage(lambda config: raise_for_index_failures(build_index(config)), describe_index),
}


def configured_api_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Prefect API URL this process would use, or None when it would start a temporary server.

    When Prefect is already imported (a test harness, a notebook) and no environment is given, its live
    settings answer; otherwise the environment, then the active profile in `$PREFECT_HOME/profiles.toml`.
    """
    if environ is None:
        if "prefect.settings" in sys.modules:
            from prefect.settings import PREFECT_API_URL

            return PREFECT_API_URL.value() or None
        environ = os.environ
    if environ.get("PREFECT_API_URL"):
        return environ["PREFECT_API_URL"]
    home = Path(environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    path = Path(environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    name = environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    url = profiles.get("profiles", {}).get(name, {}).get("PREFECT_API_URL")
    return str(url) if url else None


def run_stages(config: PipelineConfig, runners: Mapping[str, Callable[[Any], Any]],
               only: Sequence[str] | None = None) -> dict[str, Any]:
    """Run each configured stage in `runners` order (all of them, or those in `only`).

    A stage that fails on bad input does not stop the stages after it: its error is its result.
    """
    unknown = sorted(set(only or ()) - set(runners))
    if unknown:
        raise DataprepError(f"unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(runners)}")
    results: dict[str, Any] = {}
    for name, run in runners.items():
        section = getattr(config, name)
        if section is None or (only and name not in only):
            continue
        try:
            write_missing_samples(section)  # the bundled sample, once, before the stage (when configured)
            results[name] = run(section)
        except DataprepError as err:
            results[name] = err
    return results


def report_results(results: Mapping[str, Any], describe: Mapping[str, Callable[[Any], str]]) -> str:
    """What the stages produced, one description each; bad input of any stage raises, listing every one."""
    failed = {name: result for name, result in results.items() if isinstance(result, DataprepError)}
    text = "\n".join(describe[name](result) for name, result in results.items() if name not in failed)
    if failed:
        if text:
            print(text)
        raise DataprepError("\n".join(_named(name, error) for name, error in failed.items()))
    return text


def _named(stage: str, error: DataprepError) -> str:
    """The error with its stage in front, unless the message already names it (`gopro_prepare.gopro_root: ...`)."""
    message = str(error)
    return message if message.startswith((f"{stage}.", f"{stage}:")) else f"{stage}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.convert_all [--config PATH] [--set key=value ...] [--local]`."""
    parser = stage_parser("python -m flows.convert_all", "Run every stage the pipeline configuration has a "
                          "section for and print where each result is and what it holds.")
    parser.add_argument("--local", action="store_true",
                        help="run without Prefect even when a Prefect server is configured (nothing recorded)")
    args = parser.parse_args(argv)

    def run() -> str:
        config = load_pipeline(args)  # a bad file fails before anything starts
        configured = [name for name in PipelineConfig.model_fields if getattr(config, name) is not None]
        if not configured:
            return f"{args.config} configures no stage; nothing to do"
        no_local = [name for name in configured if name not in LOCAL_STAGES]
        if args.local or (configured_api_url() is None and not no_local):
            if no_local:
                raise DataprepError(f"--local: stage(s) {', '.join(no_local)} can only run through Prefect")
            if not args.local:
                print(LOCAL_NOTICE, file=sys.stderr)
            results = run_stages(config, {name: stage.run for name, stage in LOCAL_STAGES.items()})
            return report_results(results, {name: stage.describe for name, stage in LOCAL_STAGES.items()})
        if no_local and configured_api_url() is None:
            print(f"stage(s) {', '.join(no_local)} run only through Prefect: starting its temporary server",
                  file=sys.stderr)
        from flows.convert_all import STAGES, convert_all

        results = convert_all(args.config, args.overrides)
        return report_results(results, {name: stage.describe for name, stage in STAGES.items()})

    return run_cli(run)
