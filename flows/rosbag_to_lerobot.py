"""Flow: ROS bags -> LeRobot v3.0 dataset (plan, convert each bag as a task, finalize).

Bags are converted one after another: each conversion already keeps both cores busy (decoding in this
thread, one encoder thread per camera), and memory stays that of one bag.
"""

from prefect import flow

from dataprep.config import ConvertConfig
from dataprep.conversion import ConversionReport
from tasks.conversion import convert_bag_task, finalize_dataset_task, plan_conversion_task


@flow(name="rosbag_to_lerobot")
def rosbag_to_lerobot(config: ConvertConfig) -> ConversionReport:
    plan = plan_conversion_task(config)
    conversions = [convert_bag_task(config, bag) for bag in plan.bags]
    return ConversionReport(finalize_dataset_task(config, conversions), tuple(conversions))
