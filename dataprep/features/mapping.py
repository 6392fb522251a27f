"""From configuration to alignment channels, and from aligned frames to feature vectors and images.

Every feature part and every camera is one alignment channel. Messages travel through the aligner as they
were deserialized; fields are extracted and images decoded only for frames that are emitted, into the
`Frame` record the episode writer takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataprep.config import ConvertConfig
from dataprep.config.models import AlignSpec, PartSpec
from dataprep.errors import DataprepError
from dataprep.features.images import IMAGE_TYPES, decode_depth, decode_image
from dataprep.features.transforms import apply_transforms
from dataprep.lerobot.frame import Frame
from dataprep.rosbag import BagError, BagReader, check_field_path, extract_values, parse_field_path
from dataprep.timeline import NS_PER_S, AlignedFrame, AlignmentReport, Channel


@dataclass(frozen=True)
class _Part:
    feature: str
    spec: PartSpec
    steps: tuple[str | int, ...]
    selector: int | slice | None  # parsed once: applied to every frame
    channel: int


@dataclass(frozen=True)
class _Camera:
    key: str
    topic: str
    resize: tuple[int, int] | None
    channel: int
    depth: bool


def _tolerance_ns(align: AlignSpec, fps: int) -> int | None:
    if align.tolerance_s is not None:
        return round(align.tolerance_s * NS_PER_S)
    if align.policy == "nearest":
        return NS_PER_S // (2 * fps)
    return NS_PER_S // fps if align.policy == "asof" else None


def _select(values: np.ndarray, selector: int | slice, index: int | str | None, where: str, at: str) -> np.ndarray:
    """`values[selector]`, refusing what Python would silently shorten: a slice must lie within the values."""
    size = values.size
    if isinstance(selector, int):
        if not -size <= selector < size:
            raise DataprepError(f"{where}: index {index} is out of range for {size} values{at}")
        return np.atleast_1d(values[selector])
    for bound in (selector.start, selector.stop):
        if bound is not None and not -size <= bound <= size:
            got = len(range(size)[selector])
            raise DataprepError(f"{where}: index {index} runs past the {size} values of the field "
                                f"(it would silently give {got}){at}; fix the slice or the field")
    selected = values[selector]
    if selected.size == 0:
        raise DataprepError(f"{where}: index {index} selects nothing of {size} values{at}")
    return selected


class FeatureMapper:
    """The configured features of one conversion, checked against one bag at a time."""

    def __init__(self, config: ConvertConfig) -> None:
        self.config = config
        channels: list[Channel] = []
        self._cameras: list[_Camera] = []
        self._parts: list[_Part] = []
        for name, camera in config.cameras.items():
            key = config.camera_key(name)
            self._cameras.append(_Camera(key, camera.topic, camera.resize, len(channels), camera.depth))
            channels.append(Channel(key, camera.topic, camera.align.policy, _tolerance_ns(camera.align, config.fps)))
        for feature, spec in config.features.items():
            for part in spec.parts:
                align = part.align or spec.align
                default = np.asarray(part.default, dtype=np.float64) if part.default is not None else None
                index = "" if part.index is None else f"[{part.index}]"
                key = f"{feature} <- {part.topic} {part.field}{index}"
                self._parts.append(_Part(feature, part, parse_field_path(part.field), part.selector(), len(channels)))
                channels.append(Channel(key, part.topic, align.policy, _tolerance_ns(align, config.fps), default))
        self.channels = tuple(channels)
        self._msgtypes: dict[str, str] = {}
        self._bag = ""

    @property
    def clock_topic(self) -> str | None:
        main = self.config.timeline.main_camera
        return self.config.cameras[main].topic if main else None

    def bind(self, reader: BagReader) -> None:
        """Check the bag offers every required topic, image types and field paths, before anything is written."""
        self._bag = str(reader.path)
        reader.require_topics({c.topic for c in self.channels if c.required})
        topics = reader.topics
        self._msgtypes = {topic: info.msgtype for topic, info in topics.items()}
        for camera in self._cameras:
            if self._msgtypes[camera.topic] not in IMAGE_TYPES:
                raise BagError(f"bag {self._bag}: camera topic {camera.topic} has type "
                               f"{self._msgtypes[camera.topic]}, not an image type ({', '.join(sorted(IMAGE_TYPES))})")
        for part in self._parts:
            if part.spec.topic in self._msgtypes:
                check_field_path(reader.typestore, self._msgtypes[part.spec.topic], part.spec.field,
                                 part.spec.topic, self._bag)

    def _part_values(self, part: _Part, payload: Any, is_default: bool, time_ns: int) -> np.ndarray:
        if is_default:
            values: np.ndarray = payload
            return values
        where = f"bag {self._bag}: topic {part.spec.topic}: field {part.spec.field!r}"
        try:
            values = extract_values(payload, part.steps)
        except (IndexError, AttributeError, TypeError, ValueError) as err:
            raise DataprepError(f"{where}: cannot take the values ({type(err).__name__}: {err}) at the message "
                                f"of t={time_ns} ns; check the indexes in the field path") from err
        if part.selector is not None:
            values = _select(values, part.selector, part.spec.index, where, f" (message at t={time_ns} ns)")
        if part.spec.default is not None and values.size != len(part.spec.default):
            raise DataprepError(f"{where}: gives {values.size} values but its default has {len(part.spec.default)}")
        return apply_transforms(values, part.spec.transforms)

    def vectors(self, frame: AlignedFrame) -> dict[str, np.ndarray]:
        """Feature key -> concatenated parts, in the feature's dtype."""
        pieces: dict[str, list[np.ndarray]] = {feature: [] for feature in self.config.features}
        for part in self._parts:
            offset = frame.offsets_ns[part.channel]
            time_ns = frame.tick_ns + (offset or 0)
            pieces[part.feature].append(self._part_values(part, frame.values[part.channel], offset is None, time_ns))
        return {
            feature: np.concatenate(parts).astype(self.config.features[feature].dtype)
            for feature, parts in pieces.items()
        }

    def images(self, frame: AlignedFrame) -> dict[str, np.ndarray]:
        """Camera key -> RGB uint8 image (depth: uint16 mm, (h, w, 1)), decoded and resized now that it is kept."""
        return {
            camera.key: (decode_depth if camera.depth else decode_image)(
                frame.values[camera.channel], self._msgtypes[camera.topic], f"bag {self._bag}: topic {camera.topic}",
                camera.resize, camera.topic)
            for camera in self._cameras
        }

    def frame(self, aligned: AlignedFrame, frame_index: int) -> Frame:
        """The writer's record of an aligned frame kept as the episode's `frame_index`-th: images decoded first
        (a `BadFrameError` drops the frame before any field is read), then the vectors."""
        images = self.images(aligned)
        return Frame.at(frame_index, self.config.fps, self.vectors(aligned), images)

    def max_offsets_ms(self, report: AlignmentReport) -> dict[str, float]:
        """The largest |message time - tick| per camera and per feature part (a held part is expected to lag)."""
        return {key: offset_ns / 1e6 for key, offset_ns in report.max_offset_ns.items()}

    def validate_names(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Configured names must match the vector length the bag actually produces."""
        for feature, values in vectors.items():
            names = self.config.features[feature].names
            if names is not None and len(names) != values.size:
                raise DataprepError(f"bag {self._bag}: feature {feature!r} has {values.size} values but "
                                    f"{len(names)} names are configured")
