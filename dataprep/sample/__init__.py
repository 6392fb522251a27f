"""Synthetic but realistic inputs for the bundled samples, tests and benchmarks: bags written with rosbags' own
writers, GoPro + spike trees, and HDF5 replay and point-cloud files.

The facade holds what a caller needs to make an input (a spec and its writer, or the bundled sample); the
pieces tests check the outputs with (camera topics, frame images, spike encoders) are imported from their
modules: `dataprep.sample.kuavo_bag`, `.ros2_bag`, `.gopro_tree`, `.missing`.
"""

from dataprep.sample.gopro_tree import GoproTreeSpec, ensure_gopro_sample, write_gopro_tree
from dataprep.sample.hdf5_files import ReplayFileSpec, write_replay_file, write_segment_file
from dataprep.sample.kuavo_bag import KuavoBagSpec, ensure_kuavo_sample, write_kuavo_bag
from dataprep.sample.ros2_bag import Ros2BagSpec, write_ros2_bag

__all__ = [
    "GoproTreeSpec",
    "KuavoBagSpec",
    "ReplayFileSpec",
    "Ros2BagSpec",
    "ensure_gopro_sample",
    "ensure_kuavo_sample",
    "write_gopro_tree",
    "write_kuavo_bag",
    "write_replay_file",
    "write_ros2_bag",
    "write_segment_file",
]
