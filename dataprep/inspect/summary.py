"""What a bag holds, per topic: type, count, rate, gaps, time span, image format, numeric fields.

One pass over the message times (nothing is deserialized but the first message of each topic), so a long
bag is inspected at the speed its index can be read.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.features import IMAGE_TYPES
from dataprep.rosbag import BagReader
from dataprep.timeline import NS_PER_S

_NUMERIC = {"bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
            "float32", "float64"}
_SKIPPED_TYPES = {"std_msgs/msg/Header", "builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration"}
_BASE, _NAME, _ARRAY, _SEQUENCE = 1, 2, 3, 4  # rosbags' Nodetype values


@dataclass(frozen=True)
class ImageFormat:
    """The first frame of an image topic: raw encoding or compressed format, and its size when known."""

    encoding: str
    width: int | None
    height: int | None

    @property
    def is_depth(self) -> bool:
        return "compressedDepth" in self.encoding or self.encoding in {"16UC1", "mono16", "32FC1"}


@dataclass(frozen=True)
class TopicSummary:
    topic: str
    msgtype: str
    count: int
    start_s: float  # seconds after the bag's start
    end_s: float
    rate_hz: float  # messages per second over the topic's own span
    p95_gap_s: float
    max_gap_s: float
    image: ImageFormat | None
    fields: tuple[tuple[str, int], ...]  # numeric field paths of the first message and their lengths


@dataclass(frozen=True)
class BagSummary:
    path: Path
    duration_s: float
    topics: tuple[TopicSummary, ...]


def numeric_fields(typestore: Any, msgtype: str, msg: Any, prefix: str = "") -> list[tuple[str, int]]:
    """(dotted path, number of values) of every numeric field or array, headers and times left out."""
    found: list[tuple[str, int]] = []
    for name, (kind, detail) in typestore.fielddefs[msgtype][1]:
        path, value = f"{prefix}{name}", getattr(msg, name)
        if kind == _NAME:
            if detail not in _SKIPPED_TYPES:
                found += numeric_fields(typestore, detail, value, f"{path}.")
        elif kind == _BASE and detail[0] in _NUMERIC:
            found.append((path, 1))
        elif kind in (_ARRAY, _SEQUENCE) and detail[0][0] == _BASE and detail[0][1][0] in _NUMERIC and len(value):
            found.append((path, len(value)))
    return found


def _image_format(msg: Any, msgtype: str) -> ImageFormat:
    if msgtype.endswith("CompressedImage"):
        import cv2

        decoded = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_UNCHANGED) \
            if "compressedDepth" not in msg.format else None
        size = (decoded.shape[1], decoded.shape[0]) if decoded is not None else (None, None)
        return ImageFormat(str(msg.format), *size)
    return ImageFormat(str(msg.encoding), int(msg.width), int(msg.height))


def _gaps(times: array[int]) -> tuple[float, float]:
    if len(times) < 2:
        return 0.0, 0.0
    gaps = np.diff(np.frombuffer(times, dtype=np.int64)) / NS_PER_S
    return float(np.percentile(gaps, 95)), float(gaps.max())


def inspect_bag(path: Path) -> BagSummary:
    """Summarise every topic of one bag."""
    with BagReader(path) as reader:
        times: dict[str, array[int]] = {topic: array("q") for topic in reader.topics}
        for topic, time_ns in reader.times():
            times[topic].append(time_ns)
        start = reader.start_ns
        summaries = []
        for topic, info in reader.topics.items():
            first = reader.first_message(topic)
            stamps = times[topic]
            span = (stamps[-1] - stamps[0]) / NS_PER_S if len(stamps) > 1 else 0.0
            image = _image_format(first, info.msgtype) if first is not None and info.msgtype in IMAGE_TYPES else None
            fields = () if first is None or image is not None else \
                tuple(numeric_fields(reader.typestore, info.msgtype, first))
            summaries.append(TopicSummary(
                topic, info.msgtype, len(stamps),
                (stamps[0] - start) / NS_PER_S if stamps else 0.0, (stamps[-1] - start) / NS_PER_S if stamps else 0.0,
                (len(stamps) - 1) / span if span else 0.0, *_gaps(stamps), image, fields))
        return BagSummary(Path(path), (reader.end_ns - start) / NS_PER_S, tuple(summaries))


def format_summary(summary: BagSummary) -> str:
    """The table a person reads: one line per topic, then its image format or numeric fields."""
    lines = [f"{summary.path}  ({summary.duration_s:.2f} s, {len(summary.topics)} topics)"]
    for t in summary.topics:
        lines.append(f"  {t.topic}  {t.msgtype}  {t.count} msgs  {t.rate_hz:.1f} Hz  "
                     f"gaps p95 {t.p95_gap_s * 1e3:.0f} ms max {t.max_gap_s * 1e3:.0f} ms  "
                     f"{t.start_s:.2f}-{t.end_s:.2f} s")
        if t.image is not None:
            size = f"{t.image.width}x{t.image.height}" if t.image.width else "size unknown"
            lines.append(f"      image: {t.image.encoding}, {size}{' (depth)' if t.image.is_depth else ''}")
        for path, length in t.fields:
            lines.append(f"      {path}: {length} value(s)")
    return "\n".join(lines)
