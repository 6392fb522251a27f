"""How many bags convert at once, and how many encoder threads each gets: decided once per run, logged.

One bag keeps about one core busy with reading, aligning and decoding (Python, one thread) and spreads its
video encoding over threads; several bags at once keep every core busy. `auto` takes as many workers as there
are cores, never more than there are bags; `plan_conversion` first lowers that to what the memory plan fits
(`memory_plan.plan_bag_conversion`, the one per-bag memory figure) and hands on the number it chose. Each
worker's encoders then share cores / workers threads, so workers x threads fits the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dataprep.config import ConvertConfig
from dataprep.conversion.staging import bag_files
from dataprep.memory import cpu_count, resolve_workers

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class BagWorkers:
    """The decision: `workers` bags at once (1: in the calling process, no pool), `encoder_threads` per
    worker's encoders (0: the codec decides), and the reasoning in words for the log."""

    workers: int
    encoder_threads: int
    reason: str


def memory_planned_workers(config: ConvertConfig, bags: int) -> int | Literal["auto"]:
    """How many bag workers the memory plan must fit on this machine: none of a remote Dask cluster's (one
    worker's chunk is still planned), a local cluster's size, `max_workers` (never more than there are bags)."""
    dask = config.task_runner.dask if config.task_runner else None
    if dask is not None and dask.address is not None:
        return 1
    wanted = dask.n_workers if dask is not None and dask.n_workers else config.max_workers
    return "auto" if wanted == "auto" else max(1, min(resolve_workers(wanted), bags))


def plan_bag_workers(config: ConvertConfig, bags: int, cpus: int | None = None) -> BagWorkers:
    """Resolve `max_workers` (and a Dask local cluster's size) against the cores and bag count; `auto` here
    means one per core (a configuration from `plan_conversion` holds the number the memory plan chose)."""
    cpus = cpu_count() if cpus is None else cpus
    dask = config.task_runner.dask if config.task_runner else None
    if dask is not None and dask.address is not None:
        return _logged(BagWorkers(max(bags, 1), 0, f"{bags} bag(s) on the Dask cluster at {dask.address}: its "
                                  f"workers decide how many run at once; encoders use their worker's cores"))
    wanted = dask.n_workers if dask is not None and dask.n_workers else config.max_workers
    if wanted == "auto":
        workers = max(1, min(cpus, bags))
        why = f"auto: {cpus} core(s), {bags} bag(s)"
    else:
        workers = max(1, min(resolve_workers(wanted, cpus), bags))
        why = f"{wanted} asked, {bags} bag(s)"
    threads = max(1, cpus // workers) if workers > 1 else 0
    where = "a local Dask cluster" if dask is not None else "a process pool" if workers > 1 else "this process"
    threads_text = f"{threads} encoder thread(s) each" if threads else "encoders take every core"
    return _logged(BagWorkers(workers, threads, f"{workers} bag worker(s) in {where} ({why}); {threads_text}"))


def largest_first(bags: Sequence[Path]) -> list[Path]:
    """The order to start bags in: biggest first, so the last bag left running alone (one worker busy, its
    encoders on their share of the cores) is a short one. Results are still collected in plan order."""
    def size(bag: Path) -> int:
        try:
            return sum(p.stat().st_size for p in bag_files(bag))
        except OSError:
            return 0  # the bag's own task reports what is wrong with it
    return sorted(bags, key=size, reverse=True)


def _logged(decision: BagWorkers) -> BagWorkers:
    logger.info("%s", decision.reason)
    return decision
