"""The figures the estimates need, read from real sources: a bag's first images, an HDF5 index, a GoPro tree.

Reading is cheap by design (one message per camera, an index's tables, one image per tree), and a source
that cannot be read is left out of the figures with a log line: the stage that reads it for real names the
problem, once, as its own failure.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2

from dataprep.config import ConvertConfig, GoproPrepareConfig, Hdf5IndexConfig
from dataprep.errors import DataprepError
from dataprep.features import decode_depth, decode_image
from dataprep.hdf5 import INDEX_NAME, IndexTables
from dataprep.hdf5.layout import SEGMENT_COLUMNS, segment_path
from dataprep.hdf5.scan import DatasetInfo
from dataprep.hdf5.sources import find_files
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


@dataclass(frozen=True)
class GoproFigures:
    frames: int
    height: int
    width: int
    source: str


def read_gopro_figures(config: GoproPrepareConfig) -> GoproFigures:
    """Frames of the prepared tree (else the raw GoPro tree) and the size of its first image."""
    root = config.output_root if config.output_root.is_dir() else config.gopro_root
    folder = config.sources[-1]
    frames, first = 0, None
    splits = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for split in splits:
        if config.splits and split.name not in config.splits:
            continue
        for seq in sorted(p for p in split.iterdir() if p.is_dir()):
            images = sorted((seq / folder).glob("*")) if (seq / folder).is_dir() else []
            frames += len(images)
            first = first or (images[0] if images else None)
    if first is None:
        raise DataprepError(f"memory plan: no {folder}/ image under {root}")
    image = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataprepError(f"memory plan: cannot read {first}")
    return GoproFigures(frames, image.shape[0], image.shape[1], f"{frames} frames under {root}")
