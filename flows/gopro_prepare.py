"""Flow: GoPro + spike trees -> one tree of links with checked spikes and voxels (plan, a task per sequence,
report).

Sequences run in parallel threads, at most `workers` at once; each writes only its own folder, and file I/O
(reads, fsync, links) and numpy's loops release the GIL.
"""

import sys
from collections.abc import Sequence
from typing import Any, cast

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from dataprep.config.gopro import SECTION, GoproPrepareConfig
from dataprep.gopro import GoproStage, PrepareReport, SequenceResult
from dataprep.gopro.plan import SequenceJob
from dataprep.gopro.scan import check_inputs
from dataprep.memory import resolve_workers
from dataprep.stages import UnitFailure, split_outcomes
from flows.cli import load_section, run_cli, stage_parser
from flows.summaries import describe_gopro as describe
from tasks.gopro import plan_gopro_task, prepare_sequence_task, report_gopro_task
from tasks.stages import PrefectExecutor


@flow(name="gopro_prepare")
def gopro_prepare_flow(config: GoproPrepareConfig, dry_run: bool = False) -> PrepareReport:
    """Every sequence is attempted; one that fails (whatever it raised) is named in the report and the others
    go on: the GoPro stage on the Prefect executor, a task per sequence."""
    plan = plan_gopro_task(config)

    def submit(job: SequenceJob) -> PrefectFuture[Any]:
        return prepare_sequence_task.submit(config, job, dry_run)

    outcomes: list[SequenceResult | UnitFailure] = PrefectExecutor(submit).run_units(GoproStage(config, dry_run), plan)
    outcome = split_outcomes(outcomes)
    return report_gopro_task(config, plan, list(outcome.results), list(outcome.failures), dry_run)


def gopro_prepare(config: GoproPrepareConfig, dry_run: bool = False) -> PrepareReport:
    """The flow with `config.workers` threads."""
    runner = cast("TaskRunner[PrefectFuture[Any]]", ThreadPoolTaskRunner(max_workers=resolve_workers(config.workers)))
    return gopro_prepare_flow.with_options(task_runner=runner)(config, dry_run)


def run_stage(config: GoproPrepareConfig, dry_run: bool = False) -> PrepareReport:
    """The stage as `convert_all` and the CLI run it: failed sequences make it an error after the report."""
    return GoproStage(config, dry_run).raise_for_failures(gopro_prepare(config, dry_run))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.gopro_prepare --config PIPELINE.yaml [--dry-run]`: this stage alone."""
    parser = stage_parser(
        "python -m flows.gopro_prepare",
        "Link GoPro frames and spike files into one checked tree, with voxels if asked.",
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    args = parser.parse_args(argv)

    def run() -> str:
        config = load_section(args, SECTION)
        check_inputs(config)  # bad roots or geometry fail before Prefect starts
        return describe(run_stage(config, args.dry_run))

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
