"""The base of every configuration model.

Strict (`extra="forbid"`) so a misspelled key is an error that names it, instead of a setting that is
silently ignored on a ten-hour run; frozen so a validated configuration cannot drift while tasks use it.
Each stage's section lives in its own module of this package and derives from `StrictModel`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
