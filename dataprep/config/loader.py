"""The `loader` block: how a training job's DataLoader is sized, in one place.

Resolved by `dataprep.memory.plan_loader` against the machine (CPUs, GPUs, memory) into the keyword
arguments torch's DataLoader takes. Load it alone with `load_config(LoaderSpec, path)`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from dataprep.config.base import StrictModel
from dataprep.config.workers import WorkerCount


class LoaderSpec(StrictModel):
    """`batch_size: auto` needs `model_params` and `activation_mb_per_sample` to size the batch on the GPU."""

    batch_size: int | Literal["auto"] = Field(default="auto", description="auto: the largest power of two that "
                                              "fits the GPU (needs model_params, activation_mb_per_sample)")
    num_workers: WorkerCount = Field(default="auto", description="int, 'auto' (CPUs x 0.8) or 'cpu*RATIO'")
    split_per_gpu: bool = Field(default=True, description="one training process per GPU shares the workers")
    prefetch_factor: int = Field(default=2, ge=1, description="batches each worker loads ahead")
    pin_memory: bool | Literal["auto"] = Field(default="auto", description="auto: when a GPU is present")
    persistent_workers: bool = Field(default=True, description="keep the workers between epochs")
    safety: float = Field(default=0.7, gt=0, le=1, description="share of GPU memory the batch plan may use")
    model_params: int | None = Field(default=None, ge=0, description="the model's parameter count")
    bytes_per_param: int = Field(default=16, ge=1,
                                 description="weights, gradients and two Adam moments in float32: 4 x 4 bytes")
    activation_mb_per_sample: float | None = Field(default=None, gt=0, description="activation memory per sample")

    @field_validator("batch_size")
    @classmethod
    def _check_batch(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"batch_size must be >= 1 or 'auto', got {value}")
        return value
