"""Pydantic models of the ROS bag conversion section, and the pipeline configuration that holds every section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from dataprep.config.bags import ClockSpec, EpisodesSpec, QualitySpec, TypesSpec
from dataprep.config.base import StrictModel
from dataprep.config.gopro import GoproPrepareConfig
from dataprep.config.hdf5 import Hdf5IndexConfig
from dataprep.config.parallel import TaskRunnerSpec
from dataprep.config.workers import WorkerCount, at_least_one
from dataprep.errors import DataprepError
from dataprep.feature_names import RESERVED_FEATURES

_FEATURE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
IMAGES_PREFIX = "observation.images."  # camera features; a vector feature may not use the prefix
_SLICE = re.compile(r"^\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d+)\s*)?$")


class AlignSpec(StrictModel):
    """How one topic is sampled at a frame tick.

    `nearest`: the message closest to the tick within `tolerance_s` on either side.
    `asof`: the latest message at or before the tick, at most `tolerance_s` old.
    `hold`: the latest message at or before the tick, however old (for topics published only on change).
    A tolerance of None means half a frame period for `nearest` and one frame period for `asof`.
    """

    policy: Literal["nearest", "asof", "hold"] = Field(
        default="nearest", description="nearest: closest within tolerance_s; asof: latest at most tolerance_s old; "
        "hold: latest, however old")
    tolerance_s: float | None = Field(
        default=None, gt=0, description="seconds; None: half a frame period (nearest) or one period (asof)")


class Transform(StrictModel):
    """One element-wise step applied to a part's values, in the order listed.

    Written in YAML as `deg2rad`, `{scale: 0.01}`, `{offset: -1.0}` or `{threshold: 50}` (1.0 where the value
    is >= the threshold, else 0.0).
    """

    kind: Literal["deg2rad", "scale", "offset", "threshold"] = Field(
        description="deg2rad (x pi/180), scale (x value), offset (+ value), threshold (1.0 where >= value, else 0.0)")
    value: float | None = Field(default=None, description="the step's number; none for deg2rad")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"kind": data}
        if isinstance(data, dict) and "kind" not in data and len(data) == 1:
            ((kind, value),) = data.items()
            return {"kind": kind, "value": value}
        return data

    @model_validator(mode="after")
    def _check_value(self) -> Transform:
        if self.kind == "deg2rad" and self.value is not None:
            raise ValueError("deg2rad takes no value")
        if self.kind != "deg2rad" and self.value is None:
            raise ValueError(f"{self.kind} needs a value, e.g. {{{self.kind}: 0.01}}")
        return self


class PartSpec(StrictModel):
    """A slice of one message field that becomes part of an output vector."""

    topic: str = Field(description="the ROS topic the values come from")
    field: str = Field(min_length=1, description="dotted path in the message, e.g. joint_data.joint_q")
    index: int | str | None = Field(default=None, description="an element (3) or a slice ('12:19')")
    transforms: tuple[Transform, ...] = Field(default=(), description="element-wise steps, applied in order")
    align: AlignSpec | None = Field(default=None, description="overrides the feature's alignment")
    default: tuple[float, ...] | None = Field(
        default=None,
        description="values used while the topic has sent nothing yet (or is absent); makes the topic optional",
    )

    @field_validator("index")
    @classmethod
    def _check_index(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and not _SLICE.match(value):
            raise ValueError(f"{value!r} is not an index or a 'start:stop[:step]' slice")
        return value

    @model_validator(mode="after")
    def _check_default_width(self) -> PartSpec:
        """A default must have as many values as the index selects, where that is known before reading."""
        width = self.known_width()
        if self.default is not None and width is not None and len(self.default) != width:
            raise ValueError(f"default has {len(self.default)} values but index {self.index!r} selects {width}")
        return self

    def known_width(self) -> int | None:
        """How many values the index selects when that does not depend on the field's length."""
        selector = self.selector()
        if isinstance(selector, int):
            return 1
        if isinstance(selector, slice) and selector.stop is not None and selector.stop >= 0 \
                and (selector.start or 0) >= 0:
            return len(range(selector.start or 0, selector.stop, selector.step or 1))
        return None

    def selector(self) -> int | slice | None:
        """The index or slice applied to the field's values."""
        if self.index is None or isinstance(self.index, int):
            return self.index
        start, stop, step = _SLICE.match(self.index).groups()  # type: ignore[union-attr]
        return slice(*(int(x) if x else None for x in (start, stop, step)))


class FeatureSpec(StrictModel):
    """An output vector feature, concatenated from its parts in order."""

    parts: tuple[PartSpec, ...] = Field(min_length=1, description="concatenated in order into one vector")
    align: AlignSpec = Field(default=AlignSpec(), description="how every part's topic is sampled at a tick")
    names: tuple[str, ...] | None = Field(default=None, description="one name per element, written to info.json")
    dtype: Literal["float32", "float64"] = Field(default="float32", description="the stored element type")


class CameraSpec(StrictModel):
    """A camera topic (sensor_msgs/Image or CompressedImage) written as `observation.images.<name>`."""

    topic: str = Field(description="a sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8, mono16) or "
                       "CompressedImage topic")
    resize: tuple[int, int] | None = Field(default=None, description="(height, width)")
    align: AlignSpec = Field(default=AlignSpec(), description="how the camera's frames are sampled at a tick")
    depth: bool = Field(default=False, description="a depth map (16UC1, mono16, 32FC1, compressedDepth), kept in mm")

    @field_validator("resize")
    @classmethod
    def _check_resize(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (min(value) <= 0 or value[0] % 2 or value[1] % 2):
            raise ValueError(f"resize {list(value)} must be two positive even numbers (height, width)")
        return value


class TimelineSpec(StrictModel):
    """Where the frame grid comes from and how much is cut at its ends."""

    main_camera: str | None = Field(
        default=None, description="camera whose first frame starts the grid; None: a fixed-rate grid"
    )
    sample_drop: int = Field(default=0, ge=0, description="frames dropped at each end of every bag")


class VideoSpec(StrictModel):
    """Encoder settings; None takes lerobot 0.6.1's default for the codec."""

    codec: Literal["libsvtav1", "h264"] = Field(default="libsvtav1", description="libsvtav1 (AV1, as lerobot) or h264")
    crf: int | None = Field(default=None, ge=0, le=63, description="quality; None: lerobot's 30 (both codecs)")
    preset: int | str | None = Field(
        default=None, description="speed preset; None: lerobot's 12 for libsvtav1, x264's own (medium) for h264")
    g: int = Field(default=2, ge=1, description="keyframe interval in frames (GOP size)")


class ViewerSpec(StrictModel):
    """The static dataset viewer (`python -m flows.view_dataset`), written after each run when enabled."""

    enabled: bool = Field(default=False, description="write the viewer after the run and link it from the run's "
                          "artifacts (an index of every episode with its quality; synced videos and plots)")
    out: Path | None = Field(default=None, description="where the viewer goes; None: `<dataset root>-viewer` "
                             "beside the dataset (outside it: a conversion replaces the dataset folder whole)")


class InputSpec(StrictModel):
    """Which bags to convert: files, rosbag2 folders, folders holding them, or glob patterns."""

    bags: tuple[str, ...] = Field(min_length=1, description=".bag files, rosbag2 folders, .mcap/.db3 files, folders "
                                  "holding them, or glob patterns; one string or a list")
    generate_sample_if_missing: bool = Field(
        default=False, description="write the bundled Kuavo-like sample at the single bag path if it is absent"
    )

    @field_validator("bags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class DatasetSettings(StrictModel):
    """What the dataset is: every setting that shapes a staged bag's episodes (its frame grid, features,
    cameras, encoding, clocks, quality rules, episode cuts).

    The staging key and `settings_hash` are derived from these fields alone (`dataprep.conversion.staging`),
    so changing one converts every bag again; a setting added here does so too, one added to `RunSettings`
    does not.
    """

    SETTINGS_KIND: ClassVar[str] = "content"  # the word the configuration reference shows for these fields

    fps: int = Field(gt=0, le=1000, description="the frame grid's rate (Kuavo's train_hz)")
    robot_type: str = Field(default="unknown", description="written to info.json")
    task: str = Field(min_length=1, description="the task of every episode (unless annotations give their own)")
    max_episode_frames: int | None = Field(default=None, ge=1,
                                           description="split long bags (off: one bag, one episode)")
    camera_storage: Literal["video", "image"] = Field(
        default="video", description="video: mp4 encoded while frames stream in; image: PNG in parquet")
    video: VideoSpec = Field(default=VideoSpec(), description="encoder settings (camera_storage: video)")
    timeline: TimelineSpec = Field(default=TimelineSpec(), description="where the frame grid starts and is cut")
    features: dict[str, FeatureSpec] = Field(default_factory=dict, description="vector features by name, e.g. "
                                             "observation.state, action")
    cameras: dict[str, CameraSpec] = Field(default_factory=dict, description="cameras by name, written as "
                                           "observation.images.<name>")
    types: TypesSpec = Field(default=TypesSpec(), description="message definitions the bags lack")
    clock: ClockSpec = Field(default=ClockSpec(), description="which time places each topic's messages")
    quality: QualitySpec = Field(default=QualitySpec(), description="when an episode fails, and what then")
    episodes: EpisodesSpec = Field(default=EpisodesSpec(), description="where episodes begin and end")

    @field_validator("features", "cameras")
    @classmethod
    def _check_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _FEATURE_NAME.match(name):
                raise ValueError(f"name {name!r} may only hold letters, digits, '_', '.', '-' (no '/')")
        return value

    @field_validator("features")
    @classmethod
    def _check_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name in RESERVED_FEATURES:
                raise ValueError(f"feature name {name!r} is reserved: lerobot's default features "
                                 f"({', '.join(RESERVED_FEATURES)}) are written by the converter")
            if name.startswith(IMAGES_PREFIX):
                raise ValueError(f"feature name {name!r}: {IMAGES_PREFIX}* is for cameras; configure it under "
                                 f"cameras.{name.removeprefix(IMAGES_PREFIX)}")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if not self.features and not self.cameras:
            raise ValueError("configure at least one feature or camera")
        main = self.timeline.main_camera
        if main is not None and main not in self.cameras:
            raise ValueError(f"timeline.main_camera {main!r} is not one of the cameras {sorted(self.cameras)}")
        depth = sorted(name for name, camera in self.cameras.items() if camera.depth)
        if depth and self.camera_storage != "image":
            raise ValueError(f"depth cameras {depth} are stored losslessly as 16-bit PNG: set camera_storage: image")
        for name in self.cameras:
            if self.camera_key(name) in self.features:
                raise ValueError(f"feature {self.camera_key(name)!r} collides with camera {name!r}")
        return self

    @staticmethod
    def camera_key(name: str) -> str:
        return f"{IMAGES_PREFIX}{name}"


class RunSettings(StrictModel):
    """How a run goes: which bags, where the dataset is written, what a failing bag does, memory,
    parallelism, how the dataset is packed and committed, what is written after the run. Changing one
    keeps every staged bag (they act after staging, or on how fast it goes)."""

    SETTINGS_KIND: ClassVar[str] = "run"

    input: InputSpec = Field(description="which bags to convert")
    output_root: Path = Field(default=Path("outputs"), description="the dataset goes to <output_root>/<repo_id>")
    repo_id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$", description="the dataset's name, owner/name")
    chunk_size: int | Literal["auto"] = Field(
        default=300, description="frames per chunk: flush, gc, memory snapshot; auto: the largest that fits")
    memory_budget_mb: int | None = Field(default=None, ge=1,
                                         description="what the memory plan may use at most (None: what is available)")
    on_bag_error: Literal["fail", "skip"] = Field(
        default="fail",
        description="every bag is attempted either way; fail: assemble nothing and list the failures; "
        "skip: assemble the bags that converted and list the ones left out",
    )
    mode: Literal["append", "rebuild"] = Field(
        default="append",
        description="append: bags not yet in the dataset become new episodes after the committed ones; "
        "rebuild: the whole dataset from every planned bag, replacing the committed one",
    )
    # lerobot's packing limits (its defaults; written into info.json): an episode goes into the current
    # file of its kind unless that would reach the size, then into the next file; chunk folders hold
    # `chunks_size` files; a fraction of a MB is allowed (tests), an int stays an int in info.json
    data_files_size_in_mb: int | float = Field(default=100, gt=0, description="a shared parquet file grows to this")
    video_files_size_in_mb: int | float = Field(default=200, gt=0, description="a shared mp4 grows to this")
    chunks_size: int = Field(default=1000, ge=1, description="files per chunk-XXX folder")
    compact_after_files: int | None = Field(
        default=None, ge=1,
        description="append mode: after a commit, compact the dataset (merge partly filled data, video and "
        "episodes files up to the limits above, no re-encoding) once more than this many files could be merged "
        "away; None: never (`python -m flows.edit_dataset compact ROOT` does it on demand)",
    )
    stats_quantiles: Literal["lerobot", "exact"] = Field(
        default="lerobot",
        description="q01..q99 in meta/stats.json; lerobot: the count-weighted mean of the episodes' quantiles, as "
        "lerobot 0.6.1 writes; exact: the whole dataset's, of every vector feature, from per-episode sketches in "
        "meta/quantile_sketches (rank error below frames/256 + 1, exact when episodes have <= 257 frames), kept "
        "through appends and edits",
    )
    max_workers: WorkerCount = Field(default=1, description="bags converted at once: an int >= 1, auto (from "
                                     "the cores and available memory; dataprep/conversion/workers.py) or cpu*RATIO")
    task_runner: TaskRunnerSpec | None = Field(default=None, description="{dask: {address: ...}} or {dask: "
                                               "{n_workers: N}}: bags on a Dask cluster")
    viewer: ViewerSpec = Field(default=ViewerSpec(), description="the dataset viewer written after the run "
                               "(docs/viewer.md)")

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _check_chunk_size(cls, value: Any) -> Any:
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{value!r} is not a number of frames >= 1 or 'auto'")
        return value

    @field_validator("max_workers")
    @classmethod
    def _check_workers(cls, value: int | str) -> int | str:
        return at_least_one(value)

    @property
    def chunk_frames(self) -> int:
        """`chunk_size` as a number: `auto` is resolved when the conversion is planned (`plan_conversion`)."""
        if self.chunk_size == "auto":
            raise DataprepError(f"{self.repo_id}: chunk_size is still 'auto'; plan_conversion resolves it")
        return self.chunk_size

    @property
    def dataset_root(self) -> Path:
        """Where the finished dataset lives: `<output_root>/<repo_id>`."""
        return self.output_root / self.repo_id


class ConvertConfig(DatasetSettings, RunSettings):
    """One ROS bag -> LeRobot v3.0 conversion: what the dataset is and how the run goes, in one flat section
    (the YAML keys and `--set` paths are the two models' fields side by side).

    A `content` setting shapes the staged bags' episodes: changing one converts every bag again. A `run`
    setting does not: changing one keeps every staged bag.
    """


class PipelineConfig(StrictModel):
    """What `python -m flows.convert_all` runs: one section per stage, absent stages are skipped."""

    rosbag_to_lerobot: ConvertConfig | None = Field(default=None, description="ROS bags -> a LeRobot v3.0 dataset")
    gopro_prepare: GoproPrepareConfig | None = Field(default=None, description="GoPro + spike trees -> one tree "
                                                     "of links, checked spikes, voxels")
    hdf5_index: Hdf5IndexConfig | None = Field(default=None, description="HDF5 files -> an index for training readers")

    @model_validator(mode="before")
    @classmethod
    def _not_a_stage_file(cls, data: Any) -> Any:
        """A preset such as configs/kuavo.yaml given as the pipeline: say how to use it, not 20 unknown keys."""
        if isinstance(data, dict) and data and not data.keys() & cls.model_fields.keys() \
                and data.keys() <= ConvertConfig.model_fields.keys():
            raise ValueError("this holds the settings of one rosbag_to_lerobot stage; a pipeline configuration "
                             "names its stages, e.g. `rosbag_to_lerobot: {extends: kuavo.yaml, input: {bags: ...}}`")
        return data
