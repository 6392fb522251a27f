"""HDF5 indexes: build them once as a pipeline stage, then sample replay transitions and point-cloud
segments through them lazily, from any process.

Building: `plan_index` -> `scan_source` per file (reuses the stored scan of an unchanged file) ->
`write_index` (index.h5 + summary.json); `build_index` runs all three. Reading: `ReplaySampler`,
`SegmentDataset` with `collate_segments`, `IndexTables` for the raw columns.
"""

from dataprep.hdf5.build import IndexReport, SourceFile, plan_index, scan_source, write_index
from dataprep.hdf5.errors import Hdf5Error, IndexFolderError
from dataprep.hdf5.index_file import IndexCounts, IndexTables
from dataprep.hdf5.layout import FIRST, INDEX_NAME, LAST, SUMMARY_NAME, TERMINAL, TIMEOUT
from dataprep.hdf5.replay import ReplayBatch, ReplaySampler
from dataprep.hdf5.scan import FileScan
from dataprep.hdf5.segments import Segment, SegmentBatch, SegmentDataset, collate_segments
from dataprep.hdf5.stage import Hdf5Stage, IndexPlan, build_index, describe_index, raise_for_index_failures
from dataprep.hdf5.stats import Moments

__all__ = [
    "FIRST",
    "INDEX_NAME",
    "LAST",
    "SUMMARY_NAME",
    "TERMINAL",
    "TIMEOUT",
    "FileScan",
    "Hdf5Error",
    "Hdf5Stage",
    "IndexCounts",
    "IndexFolderError",
    "IndexPlan",
    "IndexReport",
    "IndexTables",
    "Moments",
    "ReplayBatch",
    "ReplaySampler",
    "Segment",
    "SegmentBatch",
    "SegmentDataset",
    "SourceFile",
    "build_index",
    "collate_segments",
    "describe_index",
    "plan_index",
    "raise_for_index_failures",
    "scan_source",
    "write_index",
]
