"""Do a frame's images and its spikes show the same picture size? Checked from the image files' headers.

A spike camera's frames are often a fixed fraction of the GoPro frame (S-VRT: 640 x 360 spikes beside
1280 x 720 images, a scale of 2), and a model that pairs them assumes that ratio. `spike.image_scale` in the
config states it; every image of every frame is then checked against spike height x scale by width x scale,
and a frame whose images do not match is left out with the sizes in its reason, like an invalid spike file.
Reading a PNG's size is one 24-byte read of its header, so the check costs nothing beside linking.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import cv2

from dataprep.config.gopro import GoproPrepareConfig
from dataprep.gopro.plan import SequenceJob

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_shape(path: Path) -> tuple[int, int] | None:
    """(height, width) of an image file, None when it is unreadable: PNG from its IHDR header, other formats
    decoded with OpenCV."""
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(height), int(width)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if image is None else (int(image.shape[0]), int(image.shape[1]))


def size_problems(frames: Iterable[str], images: Mapping[str, tuple[Path, Mapping[str, str]]],
                  spike_shape: tuple[int, int], scale: float) -> dict[str, str]:
    """frame -> what does not match, for frames whose images are not `scale` times the spike frames' size.

    `images` maps each image folder to (its directory, frame -> file name)."""
    expected = (round(spike_shape[0] * scale), round(spike_shape[1] * scale))
    problems: dict[str, str] = {}
    for frame in frames:
        for folder, (directory, names) in images.items():
            shape = image_shape(directory / names[frame])
            if shape is None:
                problems[frame] = f"image size: {folder}/{names[frame]} is unreadable"
            elif shape != expected:
                problems[frame] = (f"image size: {folder} is {shape[1]} x {shape[0]}, spikes {spike_shape[1]} x "
                                   f"{spike_shape[0]} at image_scale {scale:g} need {expected[1]} x {expected[0]}")
            else:
                continue
            break
    return problems


def frame_size_problems(config: GoproPrepareConfig, job: SequenceJob, frames: Iterable[str],
                        files: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """`size_problems` of one sequence's frames as the config describes them; empty without `image_scale`."""
    scale = config.spike.image_scale
    if scale is None or job.gopro_dir is None:
        return {}
    images = {source: (job.gopro_dir / source, files[source]) for source in config.sources if source in files}
    return size_problems(frames, images, (config.spike.height, config.spike.width), scale)
