"""HDF5 indexes: build them once as a pipeline stage, then sample replay transitions and point-cloud
segments through them lazily, from any process.

Building: `plan_index` -> `scan_source` per file (reuses the stored scan of an unchanged file) ->
`write_index` (index.h5 + summary.json); `build_index` runs all three. Reading: `ReplaySampler`,
`SegmentDataset` with `collate_segments`, `IndexTables` for the raw columns.
"""

from dataprep.hdf5.build import IndexReport, plan_index, scan_source, write_index
from dataprep.hdf5.errors import Hdf5Error
from dataprep.hdf5.index_file import IndexTables
from dataprep.hdf5.replay import ReplaySampler
from dataprep.hdf5.segments import SegmentDataset, collate_segments
from dataprep.hdf5.stage import Hdf5Stage, IndexPlan, build_index

__all__ = [
    "Hdf5Error",
    "Hdf5Stage",
    "IndexPlan",
    "IndexReport",
    "IndexTables",
    "ReplaySampler",
    "SegmentDataset",
    "build_index",
    "collate_segments",
    "plan_index",
    "scan_source",
    "write_index",
]
