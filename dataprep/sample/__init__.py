"""Synthetic but realistic bags written with rosbags' own writers: the bundled sample, tests and benchmarks;
synthetic HDF5 replay and point-cloud files for the index stage."""

from dataprep.sample.hdf5_files import ReplayFileSpec, write_replay_file, write_segment_file
from dataprep.sample.kuavo_bag import (
    CAMERA_TOPICS,
    KuavoBagSpec,
    camera_frame,
    ensure_kuavo_sample,
    frame_number_from_image,
    write_kuavo_bag,
)
from dataprep.sample.ros2_bag import Ros2BagSpec, ros2_camera_frame, write_ros2_bag

__all__ = [
    "CAMERA_TOPICS",
    "KuavoBagSpec",
    "ReplayFileSpec",
    "Ros2BagSpec",
    "camera_frame",
    "ensure_kuavo_sample",
    "frame_number_from_image",
    "ros2_camera_frame",
    "write_kuavo_bag",
    "write_replay_file",
    "write_ros2_bag",
    "write_segment_file",
]
