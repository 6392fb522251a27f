"""How many bags convert at once, and how many encoder threads each gets: decided once per run, logged.

One bag keeps about one core busy with reading, aligning and decoding (Python, one thread) and spreads its
video encoding over threads; several bags at once keep every core busy. `auto` takes as many workers as there
are cores, fewer when the available memory cannot hold that many bags at their peak, never more than there
are bags. Each worker's encoders then share cores / workers threads, so workers x threads fits the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.staging import bag_files
from dataprep.memory import MB, cpu_count, resolve_workers, take_snapshot

logger = logging.getLogger(__name__)

# THE per-bag memory figure `auto` plans with: the peak RSS of one process converting one Kuavo-like bag (3
# cameras 640x480, bench/README.md): 530-570 MB in video mode whatever the length; in image mode 1.9 GB for 20 s
# and growing with the episode until #10 item 8 makes it flat. The memory stage (#11) is to replace this with its
# calibrated estimate from the configuration; every use goes through `bag_peak_bytes`.
BAG_PEAK_MB = {"video": 600, "image": 2000}
MEMORY_SHARE = 0.8  # of the available memory that bags may take; the rest is the flow's, finalize's and the system's


def bag_peak_bytes(config: ConvertConfig) -> int:
    """The peak memory one worker needs to convert one bag of this configuration."""
    return BAG_PEAK_MB[config.camera_storage] * MB


@dataclass(frozen=True)
class BagWorkers:
    """The decision: `workers` bags at once (1: in the calling process, no pool), `encoder_threads` per
    worker's encoders (0: the codec decides), and the reasoning in words for the log."""

    workers: int
    encoder_threads: int
    reason: str


def plan_bag_workers(config: ConvertConfig, bags: int, cpus: int | None = None,
                     available: int | None = None) -> BagWorkers:
    """Resolve `max_workers` (and a Dask local cluster's size) against the cores, memory and bag count."""
    cpus = cpu_count() if cpus is None else cpus
    dask = config.task_runner.dask if config.task_runner else None
    if dask is not None and dask.address is not None:
        return _logged(BagWorkers(max(bags, 1), 0, f"{bags} bag(s) on the Dask cluster at {dask.address}: its "
                                  f"workers decide how many run at once; encoders use their worker's cores"))
    wanted = dask.n_workers if dask is not None and dask.n_workers else config.max_workers
    if wanted == "auto":
        available = take_snapshot().available if available is None else available
        per_bag = bag_peak_bytes(config)
        by_memory = max(1, int(available * MEMORY_SHARE) // per_bag)
        workers = max(1, min(cpus, by_memory, bags))
        why = (f"auto: {cpus} core(s), {available // MB} MB available / {per_bag // MB} MB per "
               f"{config.camera_storage}-mode bag (x{MEMORY_SHARE}) = {by_memory}, {bags} bag(s)")
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
