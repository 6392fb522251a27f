"""Reading ROS1 and ROS2 bags in one pass: discovery, typestore mending, field paths."""

from dataprep.rosbag.definitions import load_msg_folders
from dataprep.rosbag.discover import find_bags, is_bag
from dataprep.rosbag.errors import BagError
from dataprep.rosbag.fields import check_field_path, extract_values, parse_field_path
from dataprep.rosbag.reader import BagMessage, BagReader, TopicInfo

__all__ = [
    "BagError",
    "BagMessage",
    "BagReader",
    "TopicInfo",
    "check_field_path",
    "extract_values",
    "find_bags",
    "is_bag",
    "load_msg_folders",
    "parse_field_path",
]
