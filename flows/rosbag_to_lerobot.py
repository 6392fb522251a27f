"""Flow: ROS bags -> LeRobot v3.0 dataset (plan, convert each bag as a task, finalize).

Bags are converted one after another: each conversion already keeps both cores busy (decoding in this
thread, one encoder thread per camera), and memory stays that of one bag.
"""

import sys
from collections.abc import Sequence

from prefect import flow

from dataprep.config import ConvertConfig
from dataprep.conversion import BagConversion, BagFailure, ConversionReport, contained_failure
from dataprep.errors import RunError
from flows.cli import load_section, run_cli, stage_parser
from flows.run_names import conversion_run_name
from flows.summaries import describe_conversion as describe
from tasks.conversion import convert_bag_task, finalize_dataset_task, plan_conversion_task
from tasks.validation import validate_dataset_task


@flow(name="rosbag_to_lerobot", flow_run_name=conversion_run_name)
def rosbag_to_lerobot(config: ConvertConfig) -> ConversionReport:
    """Every bag is attempted and each failure is that bag's alone, reported by finalize; only a `RunError`
    (output not writable, disk full) stops the run, at once."""
    plan = plan_conversion_task(config)
    config = plan.config  # chunk_size resolved by the memory plan
    conversions: list[BagConversion] = []
    failures: list[BagFailure] = []
    for bag in plan.bags:
        state = convert_bag_task(config, bag, return_state=True)
        if state.is_completed():
            conversions.append(state.result())
            continue
        outcome = state.result(raise_on_failure=False)
        assert isinstance(outcome, BaseException)  # a failed task's result is its exception
        error = contained_failure(outcome, bag, config.output_root)
        if isinstance(error, RunError):
            raise error
        failures.append(BagFailure(str(bag), str(error)))
    report = finalize_dataset_task(config, conversions, failures)
    validate_dataset_task(report.dataset.root)  # the artifact says whether lerobot can read it
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.rosbag_to_lerobot --config PIPELINE.yaml`: this stage alone."""
    args = stage_parser("python -m flows.rosbag_to_lerobot", "Convert ROS bags into a LeRobot v3.0 dataset.") \
        .parse_args(argv)
    return run_cli(lambda: describe(rosbag_to_lerobot(load_section(args, "rosbag_to_lerobot"))))


if __name__ == "__main__":
    sys.exit(main())
