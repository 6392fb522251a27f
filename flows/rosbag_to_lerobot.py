"""Flow: ROS bags -> LeRobot v3.0 dataset (plan, convert each bag as a task, finalize).

Bags are converted one after another: each conversion already keeps both cores busy (decoding in this
thread, one encoder thread per camera), and memory stays that of one bag.
"""

import sys
from collections.abc import Sequence

from prefect import flow

from dataprep.config import ConvertConfig
from dataprep.conversion import BagConversion, BagFailure, ConversionReport
from dataprep.errors import DataprepError
from flows.cli import load_section, run_cli, stage_parser
from flows.run_names import conversion_run_name
from flows.summaries import describe_conversion as describe
from tasks.conversion import convert_bag_task, finalize_dataset_task, plan_conversion_task


@flow(name="rosbag_to_lerobot", flow_run_name=conversion_run_name)
def rosbag_to_lerobot(config: ConvertConfig) -> ConversionReport:
    """Every bag is attempted; a bag with bad input is reported by finalize, anything else fails the run."""
    plan = plan_conversion_task(config)
    conversions: list[BagConversion] = []
    failures: list[BagFailure] = []
    for bag in plan.bags:
        state = convert_bag_task(config, bag, return_state=True)
        if state.is_completed():
            conversions.append(state.result())
            continue
        error = state.result(raise_on_failure=False)
        if not isinstance(error, DataprepError):
            state.result()  # not bad input: re-raise whatever ended the task, and the run with it
        failures.append(BagFailure(str(bag), str(error)))
    return finalize_dataset_task(config, conversions, failures)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.rosbag_to_lerobot --config PIPELINE.yaml`: this stage alone."""
    args = stage_parser("python -m flows.rosbag_to_lerobot", "Convert ROS bags into a LeRobot v3.0 dataset.") \
        .parse_args(argv)
    return run_cli(lambda: describe(rosbag_to_lerobot(load_section(args, "rosbag_to_lerobot"))))


if __name__ == "__main__":
    sys.exit(main())
