"""meta/info.json as one typed model, read and written here only.

The keys, their order and their JSON types are lerobot 0.6.1's (tests/test_golden.py compares our file with
one lerobot wrote): `codebase_version`, `fps`, `features`, the totals, the packing limits (`chunks_size`,
`data_files_size_in_mb`, `video_files_size_in_mb`), the two path templates, `robot_type`, `splits`. Keys
another tool added are kept through a read and a write (pydantic `extra="allow"`), after lerobot's.
Reading validates every field, so a reader (the validator, an append to an existing dataset) gets a
`DatasetInfoError` naming the file and the field instead of a KeyError deep inside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataprep.errors import DataprepError
from dataprep.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_DATA_FILE_SIZE_IN_MB,
    DEFAULT_VIDEO_FILE_SIZE_IN_MB,
    INFO_PATH,
)
from dataprep.storage import write_json_atomic

# JSON ints stay ints: 10.0 or "10" for fps is a defect of the file, not something to coerce silently.
_Count = Annotated[int, Field(strict=True, ge=0)]
_Positive = Annotated[int, Field(strict=True, gt=0)]
_SizeMb = Annotated[int | float, Field(gt=0)]  # lerobot writes ints; a small limit (tests, tiny files) may be 0.5


class DatasetInfoError(DataprepError):
    """meta/info.json is missing, not JSON, or a field is absent or of the wrong type; names file and field."""


class FeatureInfo(BaseModel):
    """One entry of `features`: dtype, shape, names, and for cameras the `info` lerobot records."""

    model_config = ConfigDict(frozen=True, extra="allow")

    dtype: str
    shape: tuple[Annotated[int, Field(strict=True, ge=0)], ...]
    names: tuple[str, ...] | dict[str, Any] | None  # lerobot 0.6.1: a list or null; older datasets: a dict
    info: dict[str, Any] | None = None  # absent (not null) in the file when None

    def to_json(self) -> dict[str, Any]:
        """The entry as lerobot writes it: dtype, shape, names, then `info` only where there is one."""
        data: dict[str, Any] = {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "names": list(self.names) if isinstance(self.names, tuple) else self.names,
        }
        if self.info is not None:
            data["info"] = self.info
        return data | dict(self.model_extra or {})


class DatasetInfo(BaseModel):
    """meta/info.json. Field order is the file's key order."""

    model_config = ConfigDict(frozen=True, extra="allow")

    codebase_version: str = CODEBASE_VERSION
    fps: _Positive
    features: dict[str, FeatureInfo]
    total_episodes: _Count
    total_frames: _Count
    total_tasks: _Count
    chunks_size: _Positive = DEFAULT_CHUNKS_SIZE
    data_files_size_in_mb: _SizeMb = DEFAULT_DATA_FILE_SIZE_IN_MB
    video_files_size_in_mb: _SizeMb = DEFAULT_VIDEO_FILE_SIZE_IN_MB
    data_path: str = DATA_PATH
    video_path: str | None  # null when the dataset has no video feature
    robot_type: str | None = None
    splits: dict[str, str]

    @property
    def video_keys(self) -> list[str]:
        return [key for key, feature in self.features.items() if feature.dtype == "video"]

    @property
    def image_keys(self) -> list[str]:
        return [key for key, feature in self.features.items() if feature.dtype == "image"]

    def data_file(self, chunk_index: int, file_index: int) -> str:
        """Dataset-relative path of a data parquet, from this dataset's own template."""
        return self.data_path.format(chunk_index=chunk_index, file_index=file_index)

    def video_file(self, video_key: str, chunk_index: int, file_index: int) -> str:
        """Dataset-relative path of a camera's mp4, from this dataset's own template."""
        if self.video_path is None:
            raise DatasetInfoError(f"{INFO_PATH}: video_path is null, so there is no file for {video_key!r}")
        return self.video_path.format(video_key=video_key, chunk_index=chunk_index, file_index=file_index)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["features"] = {key: feature.to_json() for key, feature in self.features.items()}
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = INFO_PATH) -> DatasetInfo:
        """Validate a parsed info.json; `where` names the file in the error."""
        if not isinstance(data, Mapping):
            raise DatasetInfoError(f"{where}: expected a JSON object, found {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'info'}: {error['msg']}" for error in err.errors()
            )
            raise DatasetInfoError(f"{where}: {problems}") from err

    @classmethod
    def read(cls, root: Path) -> DatasetInfo:
        """The info.json of the dataset at `root`."""
        path = Path(root) / INFO_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise DatasetInfoError(f"{path}: missing; without info.json nothing in the dataset can be located") from err
        except (OSError, ValueError) as err:
            raise DatasetInfoError(f"{path}: unreadable: {err}") from err
        return cls.from_json(data, str(path))

    def write(self, root: Path) -> None:
        """Atomically: a reader sees the old info.json or the new one, never a mix."""
        write_json_atomic(Path(root) / INFO_PATH, self.to_json(), indent=4)  # lerobot's indentation
