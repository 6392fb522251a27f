"""The figures a bag conversion's memory estimate needs, read from the bags: each camera's first image.

Reading is cheap by design (one message per camera of the first few bags), and a bag that cannot be read is
left out of the figures with a log line: its conversion names the problem, once, as that bag's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.errors import DataprepError
from dataprep.features import decode_depth, decode_image
from dataprep.lerobot.png_pool import encode_png
from dataprep.memory.estimators import CameraShape, itemsize
from dataprep.rosbag import BagReader, load_msg_folders

logger = logging.getLogger(__name__)

MAX_BAGS_READ = 16  # bags whose first images are read to size the frames; recordings of one rig share a geometry


@dataclass(frozen=True)
class CameraFigure:
    """One camera's frame as the writer receives it, and its PNG size (what image mode buffers per frame)."""

    shape: CameraShape
    png_bytes: int


@dataclass(frozen=True)
class BagFigures:
    cameras: dict[str, CameraFigure]  # camera name -> the largest frame seen across the bags read (if any)
    vector_bytes: int  # per frame, every configured feature (an upper bound where widths come from the data)
    source: str  # where the figures come from, for the reasoning


def _first_frames(config: ConvertConfig, bag: Path) -> dict[str, CameraFigure]:
    figures = {}
    with BagReader(bag, load_msg_folders(config.types.msg_paths)) as reader:
        types = {topic: info.msgtype for topic, info in reader.topics.items()}
        for name, camera in config.cameras.items():
            msg = reader.first_message(camera.topic) if camera.topic in types else None
            if msg is None:
                continue
            decode = decode_depth if camera.depth else decode_image
            try:
                image = decode(msg, types[camera.topic], f"bag {bag}: topic {camera.topic}", camera.resize,
                               camera.topic)
            except DataprepError as err:  # not an image, or a bad first frame: the conversion says which
                logger.info("memory plan: %s", err)
                continue
            shape = CameraShape(image.shape[0], image.shape[1], image.shape[2], str(image.dtype))
            png = len(encode_png(image)) if config.camera_storage == "image" else 0
            figures[name] = CameraFigure(shape, png)
    return figures


def _vector_bytes(config: ConvertConfig) -> int:
    """Widths known from the configuration; an open slice or a whole field counts as 64 values."""
    total = 0
    for spec in config.features.values():
        width = sum(part.known_width() or 64 for part in spec.parts)
        total += width * itemsize(spec.dtype)
    return total


def read_bag_figures(config: ConvertConfig, bags: Sequence[Path]) -> BagFigures:
    """Frame sizes from the first image of each camera in the first MAX_BAGS_READ bags; a camera with a
    `resize` and video storage needs no reading at all."""
    cameras: dict[str, CameraFigure] = {}
    needs_reading = config.camera_storage == "image" or any(c.resize is None for c in config.cameras.values())
    read = list(bags[:MAX_BAGS_READ]) if needs_reading and config.cameras else []
    for bag in read:
        try:
            found = _first_frames(config, bag)
        except Exception as err:  # noqa: BLE001 - one unreadable bag is that bag's failure, reported when converted
            logger.info("memory plan: %s left out of the frame sizes: %s", bag, err)
            continue
        for name, figure in found.items():
            if name not in cameras or figure.shape.nbytes > cameras[name].shape.nbytes:
                cameras[name] = figure
    for name, camera in config.cameras.items():
        if name not in cameras and camera.resize is not None:
            h, w = camera.resize
            shape = CameraShape(h, w, 1, "uint16") if camera.depth else CameraShape(h, w)
            cameras[name] = CameraFigure(shape, shape.nbytes)  # PNG no larger than raw, about
    source = f"first images of {len(read)} of {len(bags)} bag(s)" if read else "the cameras' resize settings"
    if missing := sorted(set(config.cameras) - set(cameras)):  # their bags fail on their own, naming why
        source += f"; camera(s) {', '.join(missing)} not counted: no readable first image"
    return BagFigures(cameras, _vector_bytes(config), source)
