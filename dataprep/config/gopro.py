"""The `gopro_prepare` section: GoPro frames + spike streams -> one tree of links, checked spikes, voxels.

Only what can be checked without touching disk is checked here (encodings, bins dividing frames, pattern
syntax); whether the roots exist and the geometry matches the files on disk is checked by
`dataprep.gopro.scan.check_inputs`, still before any work, naming the same keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dataprep.config.base import StrictModel
from dataprep.config.workers import WorkerCount, at_least_one

SECTION = "gopro_prepare"
_FOLDER = re.compile(r"^[A-Za-z0-9_.\-]+$")
UINT8_MAX = 255  # the largest sum a uint8 voxel holds


class SpikeSpec(StrictModel):
    """How one `.dat` file is laid out.

    `bytes`: uint8 0/1, one byte per pixel, `frames x height x width` bytes (e.g. 10 x 396 x 640).
    `bitpacked`: one bit per pixel, LSB first, `height * width / 8` bytes per frame, rows stored upside down
    (e.g. 88 x 360 x 640, S-VRT / SpkDeblurNet / SpikeCV). `flip` None: flip bitpacked files only.
    """

    encoding: Literal["bytes", "bitpacked"] = Field(description="bytes: one uint8 0/1 per pixel; bitpacked: one "
                                                    "bit per pixel, LSB first, rows upside down")
    frames: int = Field(gt=0, description="spike frames per file")
    height: int = Field(gt=0, description="pixels")
    width: int = Field(gt=0, description="pixels")
    flip: bool | None = Field(default=None, description="flip rows on read; None: only for bitpacked")
    image_scale: float | None = Field(
        default=None, gt=0,
        description="image size / spike size on both axes, checked for every frame (1: the same size, 2: 1280 x "
        "720 images beside 640 x 360 spikes); a frame that does not match is left out; None: not checked",
    )

    @model_validator(mode="after")
    def _check_bits(self) -> SpikeSpec:
        if self.encoding == "bitpacked" and (self.height * self.width) % 8:
            raise ValueError(
                f"bitpacked frames of {self.height} x {self.width} pixels are not whole bytes "
                "(height * width must be a multiple of 8)"
            )
        return self


class VoxelSpec(StrictModel):
    """Voxels: `bins` consecutive, equal groups of spike frames, each summed (10 frames, 5 bins: pairs)."""

    bins: int = Field(gt=0, description="equal groups of consecutive frames, each summed; must divide spike.frames")
    dtype: Literal["float32", "float16", "uint8", "uint16"] = Field(default="float32", description="of the .npy voxels")


class LayoutSpec(StrictModel):
    """Folder names and file patterns, for trees laid out differently from GOPRO_Large + spike.

    A pattern is a regular expression matched against whole file names; its `frame` group names the frame,
    which is what pairs files across sources (and names the links: `<frame><the file's suffix>`).
    """

    spike_folder: str = Field(default="spike", description="the spike folder in each sequence")
    voxel_folder: str = Field(default="spike_vox", description="where voxels are written in each output sequence")
    image_pattern: str = Field(default=r"(?P<frame>.+)\.png", description="GoPro image file names")
    spike_pattern: str = Field(default=r"(?P<frame>.+)\.dat", description="spike file names")

    @field_validator("spike_folder", "voxel_folder")
    @classmethod
    def _check_folder(cls, value: str) -> str:
        if not _FOLDER.match(value):
            raise ValueError(f"folder name {value!r} may only hold letters, digits, '_', '.', '-'")
        return value

    @field_validator("image_pattern", "spike_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as err:
            raise ValueError(f"pattern {value!r} is not a regular expression: {err}") from err
        if "frame" not in compiled.groupindex:
            raise ValueError(f"pattern {value!r} has no (?P<frame>...) group naming the frame")
        return value


class GoproPrepareConfig(StrictModel):
    """GoPro (`<split>/<seq>/{blur,blur_gamma,sharp}/<frame>.png`) and spike (`<split>/<seq>/spike/*.dat`).

    `output_root` receives `<split>/<seq>/{<sources>,spike}/` links, `spike_vox/` voxels and `report.json`.
    """

    gopro_root: Path = Field(description="the raw GoPro tree (read only)")
    spike_root: Path = Field(description="the raw spike tree (read only)")
    output_root: Path = Field(description="where the tree of links, the voxels and report.json go")
    splits: tuple[str, ...] | None = Field(default=None, min_length=1, description="None: every split found")
    spike: SpikeSpec = Field(description="how a .dat file is laid out")
    voxels: VoxelSpec | None = Field(default=None, description="voxels computed ahead of time; absent: none")
    link: Literal["relative", "absolute"] = Field(
        default="relative", description="relative: the tree can move with the raw roots")
    sources: tuple[str, ...] = Field(
        default=("blur", "sharp"), min_length=1, description="GoPro folders to link"
    )
    layout: LayoutSpec = Field(default=LayoutSpec(), description="folder names and patterns of other trees")
    workers: WorkerCount = Field(
        default="auto", description="sequences prepared at once: int, 'auto' (CPUs x 0.8), 'cpu*0.9'"
    )
    generate_sample_if_missing: bool = Field(
        default=False,
        description="write the bundled sample trees at gopro_root and spike_root if neither exists",
    )

    @field_validator("splits", "sources", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("workers")
    @classmethod
    def _check_workers(cls, value: int | str) -> int | str:
        return at_least_one(value)

    @field_validator("splits", "sources")
    @classmethod
    def _check_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in value or ():
            if not _FOLDER.match(name):
                raise ValueError(f"name {name!r} may only hold letters, digits, '_', '.', '-' (no '/')")
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"{list(value)} names a folder twice")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> GoproPrepareConfig:
        if self.voxels is not None:
            bins, frames = self.voxels.bins, self.spike.frames
            if frames % bins:
                raise ValueError(
                    f"spike.frames {frames} does not divide into voxels.bins {bins} equal groups; "
                    f"choose bins among {[b for b in range(1, frames + 1) if frames % b == 0]}"
                )
            if frames // bins > UINT8_MAX and self.voxels.dtype == "uint8":
                raise ValueError(f"voxels.dtype uint8 cannot hold sums of {frames // bins} frames")
        taken = {self.layout.spike_folder, self.layout.voxel_folder}
        if len(taken) < 2 or taken & set(self.sources):
            raise ValueError(
                f"sources {list(self.sources)}, layout.spike_folder and layout.voxel_folder "
                "must all be different folder names"
            )
        return self
