"""Per-file scans stored in the output folder, so a rerun reads only the files that changed.

A stored scan is keyed by the file's resolved path and the settings that shape it (kind, segmenting, image
cache size), and is reused only while the file's size and mtime are those it was scanned at.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dataprep.config.hdf5 import Hdf5SourceSpec
from dataprep.hdf5.layout import SCANS_DIR
from dataprep.hdf5.scan import DatasetInfo, FileScan, ReplayColumns, SegmentColumns
from dataprep.hdf5.sources import FileIdentity
from dataprep.hdf5.stats import MOMENT_KEYS, Moments
from dataprep.storage import atomic_path

REPLAY_FIELDS = tuple(field.name for field in dataclasses.fields(ReplayColumns))

logger = logging.getLogger(__name__)


def scan_key(identity: FileIdentity, spec: Hdf5SourceSpec, cache_size: int | None) -> str:
    """`<stem>-<hash of path and settings>`: readable in a listing, distinct for same-named files."""
    settings = json.dumps([identity.path, spec.kind, spec.segment_size, spec.segment_dataset, spec.drop_last,
                           cache_size])
    return f"{Path(identity.path).stem}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def scan_file_path(root: Path, key: str) -> Path:
    return root / SCANS_DIR / f"{key}.npz"


def save_scan(scan: FileScan, dest: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, moments in scan.stats.items():
        arrays.update({f"stats.{name}.{k}": v for k, v in moments.arrays().items()})
    if scan.replay is not None:
        arrays.update({f"replay.{k}": v for k, v in vars(scan.replay).items()})
    arrays.update({f"offsets.{name}": offsets for name, offsets in scan.offsets.items()})
    if scan.segments is not None:
        arrays.update({"segments.start": scan.segments.start, "segments.length": scan.segments.length})
    meta = {"identity": asdict(scan.identity), "kind": scan.kind, "cache": scan.cache, "rows": scan.rows,
            "datasets": json.loads(scan.datasets_json()), "stats": sorted(scan.stats),
            "offsets": sorted(scan.offsets)}
    with atomic_path(dest) as tmp, tmp.open("wb") as out:
        np.savez(out, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]  # stub: **kwds vs allow_pickle


def load_scan(path: Path, identity: FileIdentity) -> FileScan | None:
    """The stored scan when it exists and was made of this very file version; None otherwise."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if FileIdentity(**meta["identity"]) != identity:
                return None
            if meta["cache"] and not Path(meta["cache"]).is_file():
                return None
            stats = {name: Moments.from_arrays({k: data[f"stats.{name}.{k}"] for k in MOMENT_KEYS})
                     for name in meta["stats"]}  # fmt: skip
            replay = segments = None
            if meta["kind"] == "replay":
                replay = ReplayColumns(*(data[f"replay.{k}"] for k in REPLAY_FIELDS))
            else:
                segments = SegmentColumns(data["segments.start"], data["segments.length"], meta["rows"])
            offsets = {name: data[f"offsets.{name}"] for name in meta["offsets"]}
    except (OSError, ValueError, KeyError) as err:  # a damaged stored scan only costs a rescan
        logger.warning("stored scan %s is unreadable (%s); rescanning", path, err)
        return None
    datasets = tuple(DatasetInfo.from_dict(d) for d in meta["datasets"])
    return FileScan(identity, meta["kind"], datasets, stats, replay, segments, meta["cache"], offsets,
                    key=path.stem, reused=True)
