"""One row of a pipeline's memory plan: what a stage (or a reader of its output) needs, and what to pass on.

Each stage plans its own row (`dataprep.conversion.memory_plan`, `dataprep.gopro.memory_plan`,
`dataprep.hdf5.memory_plan`) from the formulas here; `dataprep.pipeline_plan` collects them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataprep.memory.snapshot import MB


@dataclass(frozen=True)
class StagePlan:
    stage: str
    need: int | None  # bytes; None when the sources could not be read
    available: int
    strategy: str
    chunk_size: int | None
    workers: int | None
    settings: str  # what to pass on, or why there is no plan

    def as_row(self) -> dict[str, str | int]:
        """Megabytes and text, for tables."""
        return {"stage": self.stage, "need_mb": "?" if self.need is None else round(self.need / MB),
                "available_mb": round(self.available / MB), "strategy": self.strategy,
                "chunk_size": "" if self.chunk_size is None else self.chunk_size,
                "workers": "" if self.workers is None else self.workers, "settings": self.settings}
