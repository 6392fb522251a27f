"""The measured coefficients of the memory estimates, kept in the repository beside this module.

`coefficients.json` is written by `python -m bench.memory_bench --calibrate` (CALIBRATE_COMMAND), which
converts a generated bag in fresh processes at a few settings and fits these numbers to their peak RSS;
rerun it after a change to the writer, the encoders or the readers, and commit the file it rewrites.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.memory.snapshot import MB

COEFFICIENTS_PATH = Path(__file__).with_name("coefficients.json")
CALIBRATE_COMMAND = "python -m bench.memory_bench --calibrate"


@dataclass(frozen=True)
class EncoderCoefficients:
    """One video encoder's resident memory: a constant and a part proportional to its frame's pixels."""

    base_mb: float
    per_megapixel_mb: float

    def bytes_for(self, pixels: int) -> int:
        return int((self.base_mb + self.per_megapixel_mb * pixels / 1e6) * MB)


@dataclass(frozen=True)
class Coefficients:
    """What the estimates add up: per conversion process, per encoder, per buffered frame, per reader process."""

    process_base_mb: float  # interpreter, libraries, bag reader: a conversion process before its first frame
    encoders: dict[str, EncoderCoefficients]  # codec -> memory of one encoder (thread, queue, codec state)
    image_row_ratio: float  # image mode: bytes held per PNG byte of a buffered frame (list, arrow, parquet)
    reader_base_mb: float  # a process that only reads (h5py/numpy/cv2 imported): HDF5 and GoPro loaders
    measured: str = ""  # when and where, for the reader of the file
    command: str = CALIBRATE_COMMAND
    points: tuple[dict[str, Any], ...] = field(default=())  # the runs the fit came from

    def encoder(self, codec: str) -> EncoderCoefficients:
        try:
            return self.encoders[codec]
        except KeyError:
            raise DataprepError(f"no memory coefficients for codec {codec!r} in {COEFFICIENTS_PATH}; "
                                f"measure them with `{CALIBRATE_COMMAND}`") from None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["points"] = list(self.points)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Coefficients:
        return cls(
            process_base_mb=float(data["process_base_mb"]),
            encoders={codec: EncoderCoefficients(**value) for codec, value in data["encoders"].items()},
            image_row_ratio=float(data["image_row_ratio"]),
            reader_base_mb=float(data["reader_base_mb"]),
            measured=str(data.get("measured", "")),
            command=str(data.get("command", CALIBRATE_COMMAND)),
            points=tuple(data.get("points", ())),
        )


def load_coefficients(path: Path = COEFFICIENTS_PATH) -> Coefficients:
    try:
        return Coefficients.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataprepError(f"{path}: unreadable memory coefficients ({err}); "
                            f"measure them again with `{CALIBRATE_COMMAND}`") from err
