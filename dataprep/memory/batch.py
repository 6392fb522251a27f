"""Batch size and DataLoader settings from GPU memory, the model's size and the CPUs.

batch = (device memory x safety - parameters x bytes per parameter) / activation bytes per sample, rounded
down to a power of two (kernels and memory allocators favour them, and a smaller batch is the safe side).
With several GPUs each process gets the same batch on its own device, so the smallest device decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dataprep.config.loader import LoaderSpec
from dataprep.errors import DataprepError
from dataprep.memory.monitor import GpuMemory
from dataprep.memory.snapshot import MB
from dataprep.memory.strategy import loader_prefetch_batches
from dataprep.memory.workers import cpu_count, resolve_workers

SAFETY = 0.7  # share of device memory a batch plan may take: the allocator's fragmentation and CUDA's context


@dataclass(frozen=True)
class BatchPlan:
    """`batch_size` None: no device to plan for; 0: not even one sample fits (the reasoning says why)."""

    batch_size: int | None
    reasoning: str

    def require(self) -> int:
        """The batch size, or an error saying what does not fit."""
        if not self.batch_size:
            raise DataprepError(f"no batch size: {self.reasoning}")
        return self.batch_size


def floor_power_of_two(n: int) -> int:
    """The largest power of two <= n; 0 for n < 1."""
    return 1 << (n.bit_length() - 1) if n >= 1 else 0


def plan_batch_size(device_bytes: int, params: int, activation_bytes_per_sample: int, *,
                    bytes_per_param: int = 16, safety: float = SAFETY) -> BatchPlan:
    """The largest power-of-two batch whose activations fit beside the model in `safety` of the device."""
    if activation_bytes_per_sample <= 0:
        raise DataprepError(f"activation bytes per sample must be > 0, got {activation_bytes_per_sample}")
    usable = int(max(device_bytes, 0) * safety)
    model = params * bytes_per_param
    figures = (f"{safety:g} x {device_bytes / MB:.0f} MB = {usable / MB:.0f} MB usable, model "
               f"{model / MB:.0f} MB ({params:,} params x {bytes_per_param} B), "
               f"{activation_bytes_per_sample / MB:.1f} MB per sample")
    if model >= usable:
        return BatchPlan(0, f"{figures}: the model alone does not fit; use a larger device, fewer parameters "
                            "or fewer bytes per parameter (mixed precision, sharded optimizer states)")
    fit = (usable - model) // activation_bytes_per_sample
    if fit < 1:
        return BatchPlan(0, f"{figures}: not one sample fits beside the model")
    batch = floor_power_of_two(fit)
    return BatchPlan(batch, f"{figures}: {fit} samples fit, rounded down to {batch}")


def plan_gpu_batch(gpus: Sequence[GpuMemory], params: int, activation_bytes_per_sample: int, *,
                   bytes_per_param: int = 16, safety: float = SAFETY) -> BatchPlan:
    """The batch per GPU (the smallest free memory decides); None with the reason when there is no GPU."""
    if not gpus:
        return BatchPlan(None, "no GPU (no CUDA device, or torch with CUDA is not installed): "
                               "set batch_size to an int for a CPU run")
    smallest = min(gpus, key=lambda g: g.free)
    plan = plan_batch_size(smallest.free, params, activation_bytes_per_sample,
                           bytes_per_param=bytes_per_param, safety=safety)
    return BatchPlan(plan.batch_size, f"gpu {smallest.index} ({smallest.name}, free memory): {plan.reasoning}")


@dataclass(frozen=True)
class LoaderSettings:
    """What one training process passes to torch's DataLoader (see `dataloader_kwargs`)."""

    batch_size: int | None
    num_workers: int
    prefetch_factor: int | None  # None with 0 workers: torch refuses a prefetch factor then
    pin_memory: bool
    persistent_workers: bool
    reasoning: str

    @property
    def in_flight_batches(self) -> int:
        """Batches loaded ahead at once (prefetch_factor per worker), each a full batch in shared memory; with
        pin_memory each is copied once more into pinned memory."""
        return loader_prefetch_batches(self.num_workers, self.prefetch_factor or 0)

    def prefetch_bytes(self, batch_bytes: int) -> int:
        """Memory the loader's read-ahead takes for batches of `batch_bytes`, on top of the readers'."""
        return self.in_flight_batches * batch_bytes * (2 if self.pin_memory else 1)

    def dataloader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `torch.utils.data.DataLoader(dataset, **kwargs)`."""
        kwargs: dict[str, Any] = {"num_workers": self.num_workers, "pin_memory": self.pin_memory,
                                  "persistent_workers": self.persistent_workers}
        if self.batch_size:
            kwargs["batch_size"] = self.batch_size
        if self.prefetch_factor is not None:
            kwargs["prefetch_factor"] = self.prefetch_factor
        return kwargs


def plan_loader(spec: LoaderSpec, gpus: Sequence[GpuMemory], cpus: int | None = None,
                batch_bytes: int | None = None) -> LoaderSettings:
    """Resolve the `loader` block: workers from the CPUs (split among the per-GPU processes), the batch from
    the GPU when `batch_size: auto`. `batch_bytes` (one batch's size, e.g. `replay_batch_bytes`) adds what the
    read-ahead holds to the reasoning."""
    cpus = cpu_count() if cpus is None else cpus
    total = resolve_workers(spec.num_workers, cpus, minimum=0)
    processes = len(gpus) if spec.split_per_gpu and gpus else 1
    workers = total // processes
    notes = [f"{total} worker(s) for {cpus} CPU(s) ({spec.num_workers!r})"
             + (f", split among {processes} GPU processes: {workers} each" if processes > 1 else "")]
    if spec.batch_size == "auto":
        if spec.model_params is None or spec.activation_mb_per_sample is None:
            raise DataprepError("loader.batch_size: auto needs loader.model_params and "
                                "loader.activation_mb_per_sample; or give batch_size as an int")
        plan = plan_gpu_batch(gpus, spec.model_params, int(spec.activation_mb_per_sample * MB),
                              bytes_per_param=spec.bytes_per_param, safety=spec.safety)
        batch, notes = plan.batch_size, [*notes, plan.reasoning]
        if batch == 0:
            plan.require()
    else:
        batch = spec.batch_size
    pin = bool(gpus) if spec.pin_memory == "auto" else spec.pin_memory
    settings = LoaderSettings(
        batch_size=batch, num_workers=workers, prefetch_factor=spec.prefetch_factor if workers else None,
        pin_memory=pin, persistent_workers=spec.persistent_workers and workers > 0, reasoning="; ".join(notes),
    )
    if batch_bytes is None or not settings.in_flight_batches:
        return settings
    ahead = (f"read-ahead: {workers} worker(s) x prefetch_factor {spec.prefetch_factor} = "
             f"{settings.in_flight_batches} batches of {batch_bytes / MB:.0f} MB"
             + (", each pinned once more" if pin else "") + f": {settings.prefetch_bytes(batch_bytes) / MB:.0f} MB")
    return dataclasses.replace(settings, reasoning=f"{settings.reasoning}; {ahead}")
