"""Flow: HDF5 replay and point-cloud files -> one index (plan, scan each file as a task, write the index).

The HDF5 stage (`dataprep.hdf5.Hdf5Stage`) on the Prefect executor (tasks/stages.py). Files are scanned one
after another: a scan is bounded by the disk and h5py's global lock, not the CPU.
"""

import sys
from collections.abc import Sequence
from typing import Any, cast

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import Hdf5Stage, IndexReport
from dataprep.hdf5.build import SourceFile
from dataprep.hdf5.scan import FileScan
from dataprep.stages import UnitFailure, split_outcomes
from flows.cli import load_section, run_cli, stage_parser
from flows.summaries import describe_index as describe
from tasks.hdf5 import plan_index_task, scan_file_task, write_index_task
from tasks.stages import PrefectExecutor


@flow(name="hdf5_index", task_runner=cast("TaskRunner[PrefectFuture[Any]]", ThreadPoolTaskRunner(max_workers=1)))
def hdf5_index(config: Hdf5IndexConfig) -> IndexReport:
    """Every file is attempted; a file that fails, whatever it raised, is listed as failed and the others are
    indexed. Only a `RunError` (or a failure to write the index itself) fails the run."""
    plan = plan_index_task(config)

    def submit(file: SourceFile) -> PrefectFuture[Any]:
        return scan_file_task.submit(config, file)

    outcomes: list[FileScan | UnitFailure] = PrefectExecutor(submit).run_units(Hdf5Stage(config), plan)
    outcome = split_outcomes(outcomes)
    return write_index_task(config, list(outcome.results), list(outcome.failures), plan.started)


def run_stage(config: Hdf5IndexConfig) -> IndexReport:
    """The stage as `convert_all` and the CLI run it: failed files make it an error after the summary."""
    return Hdf5Stage(config).raise_for_failures(hdf5_index(config))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.hdf5_index --config PIPELINE.yaml`: this stage alone."""
    args = stage_parser("python -m flows.hdf5_index", "Index HDF5 replay and point-cloud files.").parse_args(argv)
    return run_cli(lambda: describe(run_stage(load_section(args, "hdf5_index"))))


if __name__ == "__main__":
    sys.exit(main())
