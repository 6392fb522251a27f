"""Segments of a bag from its annotation sidecar: one JSON file beside the bag, its shape configurable.

Each segment (start, end, task text) becomes an episode with its own task, so one long recording of several
tasks is several episodes. Bad sidecars fail the bag with the file and the entry named.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from dataprep.config.bags import AnnotationSpec
from dataprep.conversion.episode_sink import Segment
from dataprep.conversion.staging import sidecar_path
from dataprep.rosbag import BagError
from dataprep.timeline import NS_PER_S


def _dig(data: Any, dotted: str, where: str) -> Any:
    for key in filter(None, dotted.split(".")):
        if not isinstance(data, dict) or key not in data:
            raise BagError(f"{where}: no key {key!r} on the way to {dotted!r}")
        data = data[key]
    return data


def load_segments(bag: Path, spec: AnnotationSpec, bag_start_ns: int) -> list[Segment] | None:
    """The bag's segments in time order; None when it has no sidecar and one is not required."""
    path = sidecar_path(bag, spec)
    if not path.is_file():
        if spec.required:
            raise BagError(f"bag {bag}: annotation file {path} does not exist (episodes.annotations.required)")
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BagError(f"bag {bag}: cannot read annotation file {path}: {err}") from err
    entries = _dig(data, spec.list_key, str(path))
    if not isinstance(entries, list) or not entries:
        raise BagError(f"{path}: {spec.list_key or 'the top level'} must be a non-empty list of segments")
    base = bag_start_ns if spec.time_base == "bag_start" else 0
    segments = []
    for i, entry in enumerate(entries):
        where = f"{path}: segment {i}"
        try:
            start, end = float(_dig(entry, spec.start_key, where)), float(_dig(entry, spec.end_key, where))
            task = str(_dig(entry, spec.task_key, where)).strip()
        except (TypeError, ValueError) as err:
            raise BagError(f"{where}: {err}") from err
        if end <= start or not task:
            raise BagError(f"{where}: needs end > start and a task text (got {start}..{end}, {task!r})")
        segments.append(Segment(base + round(start * NS_PER_S), base + round(end * NS_PER_S), task))
    segments.sort(key=lambda s: s.start_ns)
    for before, after in itertools.pairwise(segments):
        if after.start_ns <= before.end_ns:
            raise BagError(f"{path}: segments {before.task!r} and {after.task!r} overlap")
    return segments
