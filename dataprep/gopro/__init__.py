"""GoPro + spike-camera preparation: a tree of links, checked spike files, voxels, and a loader over it.

No Prefect here: `prepare_tree` runs the whole stage in one process; the flow runs `plan_prepare`, then
`prepare_sequence` per sequence in parallel tasks, then `conclude_prepare` (`GoproStage`: the stage contract).
"""

from dataprep.gopro.dataset import CacheStats, GoproSample, GoproSpikeDataset, SampleCache
from dataprep.gopro.errors import GoproConfigError, GoproError, SequenceError, SpikeFileError
from dataprep.gopro.plan import LeftOut, Link, SequenceJob, frame_order
from dataprep.gopro.prepare import GoproStage, conclude_prepare, prepare_sequence, prepare_tree
from dataprep.gopro.report import (
    REPORT_FILE,
    PrepareReport,
    SequenceResult,
    format_report,
    raise_for_failures,
    split_rows,
)
from dataprep.gopro.scan import PreparePlan, check_inputs, plan_prepare
from dataprep.gopro.spikes import SpikeGeometry, check_spike_file, read_spikes, spike_to_voxel, voxelize_file
from dataprep.memory import resolve_workers  # the worker-count helper for DataLoaders and the stage's tasks

__all__ = [
    "REPORT_FILE",
    "CacheStats",
    "GoproConfigError",
    "GoproError",
    "GoproSample",
    "GoproSpikeDataset",
    "GoproStage",
    "LeftOut",
    "Link",
    "PreparePlan",
    "PrepareReport",
    "SampleCache",
    "SequenceError",
    "SequenceJob",
    "SequenceResult",
    "SpikeFileError",
    "SpikeGeometry",
    "check_inputs",
    "check_spike_file",
    "conclude_prepare",
    "format_report",
    "frame_order",
    "plan_prepare",
    "prepare_sequence",
    "prepare_tree",
    "raise_for_failures",
    "read_spikes",
    "resolve_workers",
    "spike_to_voxel",
    "split_rows",
    "voxelize_file",
]
