"""Flow: HDF5 replay and point-cloud files -> one index (plan, scan each file as a task, write the index).

Files are scanned one after another: a scan is bounded by the disk and h5py's global lock, not the CPU.
"""

import sys
import time
from collections.abc import Sequence

from prefect import flow

from dataprep.config import Hdf5IndexConfig
from dataprep.errors import DataprepError
from dataprep.hdf5 import FileFailure, FileScan, IndexReport
from flows.cli import load_section, run_cli, stage_parser
from flows.summaries import describe_index as describe
from flows.summaries import raise_for_index_failures
from tasks.hdf5 import plan_index_task, scan_file_task, write_index_task


@flow(name="hdf5_index")
def hdf5_index(config: Hdf5IndexConfig) -> IndexReport:
    """Every file is attempted; a file with bad input is listed as failed, anything else fails the run."""
    started = time.monotonic()
    scans: list[FileScan] = []
    failures: list[FileFailure] = []
    for file in plan_index_task(config):
        state = scan_file_task(config, file, return_state=True)
        if state.is_completed():
            scans.append(state.result())
            continue
        error = state.result(raise_on_failure=False)
        if not isinstance(error, DataprepError):
            state.result()  # not bad input: re-raise whatever ended the task, and the run with it
        failures.append(FileFailure(file.failure_path, str(error)))
    return write_index_task(config, scans, failures, started)


def run_stage(config: Hdf5IndexConfig) -> IndexReport:
    """The stage as `convert_all` and the CLI run it: failed files make it an error after the summary."""
    return raise_for_index_failures(hdf5_index(config))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.hdf5_index --config PIPELINE.yaml`: this stage alone."""
    args = stage_parser("python -m flows.hdf5_index", "Index HDF5 replay and point-cloud files.").parse_args(argv)
    return run_cli(lambda: describe(run_stage(load_section(args, "hdf5_index"))))


if __name__ == "__main__":
    sys.exit(main())
