"""Synthetic but realistic inputs for the bundled samples, tests and benchmarks: bags written with rosbags' own
writers, GoPro + spike trees, and HDF5 replay and point-cloud files."""

from dataprep.sample.gopro_tree import (
    GoproTreeSpec,
    encode_spikes,
    ensure_gopro_sample,
    sample_image,
    sample_spikes,
    write_gopro_tree,
    write_spike_file,
)
from dataprep.sample.hdf5_files import ReplayFileSpec, write_replay_file, write_segment_file
from dataprep.sample.kuavo_bag import (
    CAMERA_TOPICS,
    KuavoBagSpec,
    camera_frame,
    ensure_kuavo_sample,
    frame_number_from_image,
    write_kuavo_bag,
)
from dataprep.sample.missing import write_missing_samples
from dataprep.sample.ros2_bag import Ros2BagSpec, ros2_camera_frame, write_ros2_bag

__all__ = [
    "CAMERA_TOPICS",
    "GoproTreeSpec",
    "KuavoBagSpec",
    "ReplayFileSpec",
    "Ros2BagSpec",
    "camera_frame",
    "encode_spikes",
    "ensure_gopro_sample",
    "ensure_kuavo_sample",
    "frame_number_from_image",
    "ros2_camera_frame",
    "sample_image",
    "sample_spikes",
    "write_gopro_tree",
    "write_kuavo_bag",
    "write_missing_samples",
    "write_replay_file",
    "write_ros2_bag",
    "write_segment_file",
    "write_spike_file",
]
