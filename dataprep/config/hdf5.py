"""The `hdf5_index` section: which HDF5 files to index, where the index goes, and the optional image cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dataprep.config.base import StrictModel


class ImageCacheSpec(StrictModel):
    """Replay images resized once at index time to size x size (uncompressed, one sample per chunk)."""

    size: int = Field(default=224, ge=8, le=4096, description="side in pixels of the square cached images")


class Hdf5SourceSpec(StrictModel):
    """A group of files of one kind.

    `replay`: offline-RL rows (`observations/*_image`, `joint`, `action`, `reward`, `terminal`, optional
    `timeout`). `segments`: point clouds (`data/{x,y,z,classification}`) cut into segments either every
    `segment_size` points or by a (start, length) dataset named by `segment_dataset`.
    """

    kind: Literal["replay", "segments"] = Field(description="replay: offline-RL rows; segments: point clouds")
    paths: tuple[str, ...] = Field(min_length=1, description="files, folders or glob patterns")
    segment_size: int | None = Field(default=None, ge=1, description="points per segment (segments sources)")
    segment_dataset: str | None = Field(default=None, min_length=1, description="an (N, 2) dataset of (start, length)")
    drop_last: bool = Field(default=True, description="a file's trailing partial segment is not a segment")

    @field_validator("paths", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_segmenting(self) -> Hdf5SourceSpec:
        given = (self.segment_size is not None) + (self.segment_dataset is not None)
        if self.kind == "segments" and given != 1:
            raise ValueError("a segments source needs exactly one of segment_size or segment_dataset")
        if self.kind == "replay" and given:
            raise ValueError("segment_size and segment_dataset apply to segments sources only")
        return self


class Hdf5IndexConfig(StrictModel):
    """One index over every source, written to `output_root` with summary.json beside it."""

    sources: tuple[Hdf5SourceSpec, ...] = Field(min_length=1, description="groups of files, each of one kind")
    output_root: Path = Field(default=Path("outputs/hdf5_index"), description="index.h5, summary.json, scans/, "
                              "image_cache/")
    image_cache: ImageCacheSpec | None = Field(default=None, description="resize replay images once at index time")
    generate_sample_if_missing: bool = Field(
        default=False, description="write a small bundled file of its kind at every source path that is a missing "
        ".h5 file (configs/hdf5_sample.yaml)")
