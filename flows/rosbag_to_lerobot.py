"""Flow: ROS bags -> LeRobot v3.0 dataset (plan, convert the bags as tasks, finalize), under the dataset's lock.

The conversion stage (`dataprep.conversion.ConversionStage`) on the Prefect executor (tasks/stages.py): bags
run as tasks of the `convert-bags` subflow, whose task runner is chosen at run time from `max_workers` and
`task_runner` (tasks/conversion.py `bag_task_runner`): one worker converts in this process, several in a
process pool, or on a Dask cluster. Plan and finalize (packing and commit) run once, here.
"""

import sys
from collections.abc import Sequence
from pathlib import Path

from prefect import flow, get_run_logger

from dataprep.config import ConvertConfig
from dataprep.conversion import BagConversion, ConversionReport, ConversionStage, clean_staging
from dataprep.conversion.dataset import conversion_lock, rejected_failures, with_absolute_paths
from dataprep.conversion.workers import largest_first
from dataprep.stages import UnitFailure, split_outcomes
from dataprep.stages.lifeline import mark_run
from flows.cli import load_section, run_cli, stage_parser
from flows.run_names import conversion_run_name
from flows.summaries import describe_conversion as describe
from tasks.conversion import bag_task_runner, convert_bag_task, finalize_dataset_task, plan_conversion_task
from tasks.stages import collect_units
from tasks.validation import validate_dataset_task
from tasks.viewer import viewer_after_run


@flow(name="convert-bags", flow_run_name=conversion_run_name)
def convert_bags(config: ConvertConfig, bags: list[Path], encoder_threads: int) -> list[BagConversion | UnitFailure]:
    """Every bag attempted, as many at once as the task runner allows; per bag, in plan order, its conversion
    or its failure. Only a `RunError` stops the run, at once."""
    return collect_units(ConversionStage(config), bags, lambda bag: convert_bag_task.submit(config, bag,
                                                                                           encoder_threads),
                         largest_first(bags))


@flow(name="rosbag_to_lerobot", flow_run_name=conversion_run_name)
def rosbag_to_lerobot(config: ConvertConfig) -> ConversionReport:
    """Every bag is attempted and each failure is that bag's alone, reported by finalize; only a `RunError`
    (output not writable, dataset locked by another run) stops the run, at once."""
    config = with_absolute_paths(config)
    with conversion_lock(config):
        plan = plan_conversion_task(config)
        config = plan.config  # chunk_size resolved by the memory plan
        get_run_logger().info("%s", plan.workers.reason)
        mark_run()  # bag workers started from here on die with this process
        runner = bag_task_runner(config, plan.workers)
        outcomes = convert_bags.with_options(task_runner=runner)(config, [bag.absolute() for bag in plan.bags],
                                                                 plan.workers.encoder_threads)
        outcome = split_outcomes(outcomes)
        failures = [*rejected_failures(plan), *outcome.failures]  # paths never opened come first
        report = finalize_dataset_task(config, list(outcome.results), failures, plan.changed)
        validate_dataset_task(report.dataset.root)  # the artifact says whether lerobot can read it
        viewer_after_run(config, report.dataset.root)  # the dataset viewer, when the configuration asks for it
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flows.rosbag_to_lerobot --config PIPELINE.yaml [--clean-staging [--dry-run]]`: this stage alone,
    or the removal of staged bags the configuration's input no longer has."""
    parser = stage_parser("python -m flows.rosbag_to_lerobot", "Convert ROS bags into a LeRobot v3.0 dataset.")
    parser.add_argument("--clean-staging", action="store_true",
                        help="remove staged bags that are not in the configured input (or were staged with other "
                             "settings) instead of converting; takes the dataset's lock")
    parser.add_argument("--dry-run", action="store_true", help="with --clean-staging: only list what would go")
    args = parser.parse_args(argv)
    if args.dry_run and not args.clean_staging:
        parser.error("--dry-run goes with --clean-staging")
    if args.clean_staging:
        return run_cli(lambda: clean_staging(load_section(args, "rosbag_to_lerobot", samples=False),
                                             dry_run=args.dry_run).text())
    return run_cli(lambda: describe(rosbag_to_lerobot(load_section(args, "rosbag_to_lerobot"))))


if __name__ == "__main__":
    sys.exit(main())
