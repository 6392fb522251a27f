"""Frame numbers drawn into images so a test can tell which frame a decoder returned, after lossy coding.

A number is written in binary as big blocks, one bit each: a horizontal ramp rising left to right for 1,
falling for 0; reading compares the block's two halves. Flat black/white blocks do not work: SVT-AV1 at
preset 12 keeps a flat block of the reference frame when only its level changed (its inter frames showed
the previous frame's bits), while a reversed ramp is always coded. Survives AV1 and h264 at 64x48. Also here: the
frame lookup lerobot 0.6.1's PyAV backend does (seek to the keyframe before, decode forward, take the frame
nearest each query timestamp within a tolerance), so tests check what a training job would get.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

BLOCK = 16  # pixels per bit: a multiple of the 8x8/4x4 transforms, so a bit never shares a block with another
LEROBOT_TOLERANCE_S = 1e-4  # LeRobotDataset's default tolerance_s


def capacity(width: int, height: int) -> int:
    """How many bits fit in an image of that size (12 at 64x48: numbers up to 4095)."""
    return (width // BLOCK) * (height // BLOCK)


def draw_number(number: int, width: int, height: int) -> np.ndarray:
    """An RGB uint8 image showing `number`, most significant bit first, row by row."""
    bits = capacity(width, height)
    if not 0 <= number < 2**bits:
        raise ValueError(f"{number} does not fit in {bits} bits of a {width}x{height} image")
    image = np.zeros((height, width, 3), np.uint8)
    rising = np.linspace(16, 239, BLOCK).astype(np.uint8)[None, :, None]
    columns = width // BLOCK
    for bit in range(bits):
        row, column = divmod(bit, columns)
        one = number >> (bits - 1 - bit) & 1
        image[row * BLOCK : (row + 1) * BLOCK, column * BLOCK : (column + 1) * BLOCK] = (
            rising if one else rising[:, ::-1]
        )
    return image


def read_number(image: np.ndarray) -> int:
    """The number `draw_number` drew, from a decoded (lossy) copy of the image."""
    height, width = image.shape[:2]
    columns = width // BLOCK
    margin = BLOCK // 4  # rows near a block's top and bottom blur with the blocks above and below
    number = 0
    for bit in range(capacity(width, height)):
        row, column = divmod(bit, columns)
        block = image[row * BLOCK + margin : (row + 1) * BLOCK - margin, column * BLOCK : (column + 1) * BLOCK]
        left, right = float(block[:, : BLOCK // 2].mean()), float(block[:, BLOCK // 2 :].mean())
        number = number << 1 | int(right > left)
    return number


def decode_at(path: Path, timestamps: Sequence[float], tolerance_s: float = LEROBOT_TOLERANCE_S) -> list[np.ndarray]:
    """Frames at `timestamps` (seconds in the file) the way lerobot's pyav backend finds them.

    Seeks to the keyframe at or before the first timestamp, decodes until the last one, and takes for each
    query the loaded frame nearest in time; a distance of `tolerance_s` or more fails, as in lerobot.
    """
    first, last = min(timestamps), max(timestamps)
    loaded: list[tuple[float, np.ndarray]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        container.seek(int(first * av.time_base), backward=True, any_frame=False)
        for frame in container.decode(stream):
            assert frame.pts is not None
            seconds = float(frame.pts * time_base)
            loaded.append((seconds, frame.to_ndarray(format="rgb24")))
            if seconds >= last:
                break
    frames = []
    for query in timestamps:
        distance, image = min(((abs(seconds - query), image) for seconds, image in loaded), key=lambda x: x[0])
        assert distance < tolerance_s, f"{path}: no frame within {tolerance_s} s of {query} (nearest {distance} s off)"
        frames.append(image)
    return frames
