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
from collections.abc import Mapping, Sequence
from pathlib import Path

from dataprep.config import PipelineConfig
from flows.cli import load_pipeline, run_cli, stage_parser
from flows.stages import PIPELINE_FLOW, STAGES, load_entrypoint, report_results, run_stages

LOCAL_NOTICE = ("no Prefect server configured: running without Prefect, nothing is recorded "
                "(docs/scheduled-runs.md says how to keep runs in the Prefect UI)")


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
        if args.local or configured_api_url() is None:
            if not args.local:
                print(LOCAL_NOTICE, file=sys.stderr)
            results = run_stages(config, {name: stage.run_local for name, stage in STAGES.items()})
            return report_results(results, {name: stage.describe_local for name, stage in STAGES.items()})
        results = load_entrypoint(PIPELINE_FLOW)(args.config, args.overrides)
        return report_results(results, {name: stage.describe for name, stage in STAGES.items()})

    return run_cli(run)
