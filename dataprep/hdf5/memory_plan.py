"""The memory plan of the HDF5 readers: what the segment reader and the replay sampler hold, from the index.

Figures come from the built index when there is one (exact dataset sizes), else from the files' sizes on disk;
the rules and formulas are `dataprep.memory`'s (pure), the reading is this stage's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5.index_file import IndexTables
from dataprep.hdf5.layout import INDEX_NAME, SEGMENT_COLUMNS, segment_path
from dataprep.hdf5.scan import DatasetInfo
from dataprep.hdf5.sources import find_files
from dataprep.memory.estimators import itemsize, replay_batch_bytes
from dataprep.memory.monitor import SystemMemory
from dataprep.memory.stage_plan import StagePlan
from dataprep.memory.strategy import replay_settings, segment_reader_settings

REPLAY_BATCH = 256  # the batch the replay row is planned for (ReplaySampler.sample(256), 224 px images)
REPLAY_IMAGE_SIZE = 224


@dataclass(frozen=True)
class Hdf5Figures:
    segment_bytes: int  # every point-cloud column of every segments file
    largest_segment_file: int
    replay_bytes: int  # every dataset of every replay file
    index_bytes: int  # the flat columns a reader loads whole
    source: str


def _nbytes(info: DatasetInfo) -> int:
    return math.prod(info.shape) * itemsize(info.dtype)


def read_hdf5_figures(config: Hdf5IndexConfig) -> Hdf5Figures:
    """From the built index when there is one (exact dataset sizes), else from the files' sizes on disk."""
    index = config.output_root / INDEX_NAME
    if index.is_file():
        tables = IndexTables.load(config.output_root)
        seg_files = [sum(_nbytes(f.datasets[segment_path(c)]) for c in SEGMENT_COLUMNS)
                     for f in tables.files if f.kind == "segments"]
        replay = sum(_nbytes(d) for f in tables.files if f.kind == "replay" for d in f.datasets.values())
        columns = sum(c.nbytes for c in tables.samples.values())
        return Hdf5Figures(sum(seg_files), max(seg_files, default=0), replay, columns, f"index {index}")
    sizes = {source.kind: [p.stat().st_size for p in find_files(source.paths)] for source in config.sources}
    segments = sizes.get("segments", [])
    return Hdf5Figures(sum(segments), max(segments, default=0), sum(sizes.get("replay", [])), 0,
                       "file sizes (no index built yet)")


def plan_hdf5(config: Hdf5IndexConfig, system: SystemMemory, loader_workers: int) -> list[StagePlan]:
    """A row for the segment reader and one for the replay sampler, for the kinds the index holds."""
    figures = read_hdf5_figures(config)
    rows = []
    if figures.segment_bytes:
        seg = segment_reader_settings(figures.segment_bytes, figures.largest_segment_file, system.available,
                                      loader_workers)
        rows.append(StagePlan("hdf5_index segments", figures.segment_bytes, system.available, seg.strategy.kind,
                              None, loader_workers, f"SegmentDataset(index, mode={seg.mode!r}, "
                              f"cache_files={seg.cache_files}); {seg.strategy.reasoning}; {figures.source}"))
    if figures.replay_bytes:
        batch = replay_batch_bytes(REPLAY_BATCH, REPLAY_IMAGE_SIZE)
        rep = replay_settings(figures.index_bytes, batch, figures.replay_bytes, system.available,
                              workers=loader_workers)
        rows.append(StagePlan("hdf5_index replay", rep.need,
                              system.available, "lazy sampler", None, loader_workers,
                              f"ReplaySampler(index, prefetch={rep.prefetch}) for batches of {REPLAY_BATCH} at "
                              f"{REPLAY_IMAGE_SIZE} px; sources {rep.strategy.reasoning}; {figures.source}"))
    return rows
