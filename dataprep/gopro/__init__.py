"""GoPro + spike-camera preparation: a tree of links, checked spike files, voxels, and a loader over it.

No Prefect here: `prepare_tree` runs the whole stage in one process; the flow runs `plan_prepare`, then
`prepare_sequence` per sequence in parallel tasks, then `conclude_prepare` (`GoproStage`: the stage contract).
"""

from dataprep.gopro.dataset import GoproSample, GoproSpikeDataset
from dataprep.gopro.errors import GoproError
from dataprep.gopro.prepare import GoproStage, conclude_prepare, prepare_sequence, prepare_tree
from dataprep.gopro.report import PrepareReport, SequenceResult
from dataprep.gopro.scan import PreparePlan, plan_prepare
from dataprep.gopro.spikes import SpikeGeometry

__all__ = [
    "GoproError",
    "GoproSample",
    "GoproSpikeDataset",
    "GoproStage",
    "PreparePlan",
    "PrepareReport",
    "SequenceResult",
    "SpikeGeometry",
    "conclude_prepare",
    "plan_prepare",
    "prepare_sequence",
    "prepare_tree",
]
