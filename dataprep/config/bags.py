"""Settings of the ROS bag conversion for real-world bags: outside message definitions, clocks, images.

Kept apart from `models.py` so the conversion section grows here, not in the file every stage touches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from dataprep.config.base import StrictModel

Clock = Literal["receive", "header"]


class TypesSpec(StrictModel):
    """Message definitions for bags that carry none (or stubs): folders of `<package>/msg/<Name>.msg` files."""

    msg_paths: tuple[Path, ...] = Field(default=(), description="folders of <package>/msg/<Name>.msg files")

    @field_validator("msg_paths", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class ClockSpec(StrictModel):
    """Which time places a topic's messages on the grid.

    `receive` (default): when the recorder got the message, as the original Kuavo converter used.
    `header`: the message's `header.stamp`; messages whose stamp is zero or further than `max_skew_s` from
    the receive time are dropped from that topic and counted. Stamps are also checked on receive-clocked
    topics, and reported.
    """

    default: Clock = Field(default="receive", description="the clock of every topic not in topics")
    topics: dict[str, Clock] = Field(default_factory=dict, description="topic -> receive | header")
    max_skew_s: float = Field(default=10.0, gt=0, description="a stamp further than this from receive is absurd")
    header_slack_s: float = Field(default=0.5, ge=0, description="how late a header-clocked message may arrive")

    def of(self, topic: str) -> Clock:
        return self.topics.get(topic, self.default)


class QualitySpec(StrictModel):
    """Thresholds that mark an episode as failing, and what then happens to it.

    `on_failing`: `keep` (reported only), `exclude` (left out of the dataset, listed in meta/quality.json) or
    `fail` (the bag fails, and `on_bag_error` decides).
    """

    max_camera_gap_s: float = Field(default=0.5, gt=0, description="a longer silence of a camera fails")
    min_match_rate: float = Field(default=0.8, ge=0, le=1, description="share of ticks a part or camera matched")
    max_drop_share: float = Field(default=0.2, ge=0, le=1, description="share of the episode's ticks dropped")
    max_repeat_share: float = Field(default=0.5, ge=0, le=1, description="share of frames re-using a camera frame")
    on_failing: Literal["keep", "exclude", "fail"] = Field(
        default="keep", description="keep (reported), exclude (left out of the dataset) or fail (the bag fails)")


class AnnotationSpec(StrictModel):
    """A JSON sidecar next to each bag listing segments, each one episode with its own task.

    The shape is configurable, e.g. Kuavo's `{"marks": [{"start": 1.2, "end": 5.0, "description": "..."}]}` is
    `{file: "{stem}.json", list_key: marks, task_key: description}`. Times are seconds after the bag's first
    message (`time_base: bag_start`) or Unix seconds (`absolute`). Ticks outside every segment are trimmed.
    """

    file: str = Field(default="{stem}.json", description="name beside the bag; {stem}: bag name without suffix")
    list_key: str = Field(default="segments", description="dotted path to the list in the JSON ('' = top level)")
    start_key: str = Field(default="start", description="a segment's start time")
    end_key: str = Field(default="end", description="a segment's end time")
    task_key: str = Field(default="task", description="a segment's task text")
    time_base: Literal["bag_start", "absolute"] = Field(
        default="bag_start", description="bag_start: seconds after the bag's first message; absolute: Unix seconds")
    required: bool = Field(default=False, description="a bag without a sidecar fails (else: one episode, `task`)")


class EpisodesSpec(StrictModel):
    """Where a bag's episodes begin and end, besides `max_episode_frames`."""

    split_on_gap_s: float | None = Field(
        default=None, gt=0, description="a gap of the required topics longer than this starts a new episode")
    annotations: AnnotationSpec | None = Field(default=None, description="a JSON sidecar of segments per bag")
