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

    msg_paths: tuple[Path, ...] = ()

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

    default: Clock = "receive"
    topics: dict[str, Clock] = Field(default_factory=dict, description="topic -> receive | header")
    max_skew_s: float = Field(default=10.0, gt=0, description="a stamp further than this from receive is absurd")
    header_slack_s: float = Field(default=0.5, ge=0, description="how late a header-clocked message may arrive")

    def of(self, topic: str) -> Clock:
        return self.topics.get(topic, self.default)
