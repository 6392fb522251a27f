"""Where a conversion's bags run: how many at once on this machine, or on a Dask cluster.

These settings say how a run goes, never what it writes: the same bags give the same dataset with one worker,
eight, or a cluster (`dataprep/conversion/staging.py` keeps them out of every staging key).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from dataprep.config.base import StrictModel


class DaskSpec(StrictModel):
    """Bags as tasks on Dask: an existing cluster (`address`) or a local cluster of `n_workers` processes.

    The cluster's workers must see the bags and `output_root` at the same paths as the flow (a shared disk);
    finalize (packing and commit) always runs once, where the flow runs.
    """

    address: str | None = Field(default=None, description="scheduler address of a running cluster, e.g. "
                                "tcp://host:8786")
    n_workers: int | None = Field(default=None, ge=1, description="size of a local cluster started for the run; "
                                  "absent: max_workers decides")

    @model_validator(mode="after")
    def _one_of(self) -> DaskSpec:
        if self.address is not None and self.n_workers is not None:
            raise ValueError("give either address (an existing cluster) or n_workers (a local one), not both")
        return self


class TaskRunnerSpec(StrictModel):
    """Absent: bags run in a process pool of `max_workers` on this machine (none for one worker)."""

    dask: DaskSpec | None = Field(default=None, description="run the bags as tasks on Dask (the dask extra)")
