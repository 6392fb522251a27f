"""Preload, cache or stream: the design notes' rule, and the settings each reader takes for it.

The rule: preload when the need is under half of available memory (the other half stays for the model,
the batches and the system), load lazily with a cache when it is under twice available (the working set
of an epoch fits in a cache, the rest is reread), and stream or memory-map beyond. The settings records
carry the readers' own parameter names (`SegmentDataset(mode=, cache_files=)`,
`GoproSpikeDataset(cache_bytes=)`, `ReplaySampler(prefetch=)`), so a plan is passed on as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dataprep.memory.snapshot import MB

PRELOAD_SHARE = 0.5  # preload while the need is under this share of available memory
LAZY_FACTOR = 2.0  # lazy loading with a cache while the need is under this multiple of available memory
CACHE_SHARE = 0.5  # what a lazy reader's caches may take of available memory, all worker processes together
PREFETCH_BATCHES = 2  # replay batches read ahead when they fit

StrategyKind = Literal["preload", "lazy", "stream"]


@dataclass(frozen=True)
class Strategy:
    kind: StrategyKind
    need: int  # bytes
    available: int  # bytes
    reasoning: str


def choose_strategy(need: int, available: int) -> Strategy:
    """The rule above; zero available memory always streams."""
    ratio = f"need {need / MB:.0f} MB, available {available / MB:.0f} MB"
    if available <= 0:
        return Strategy("stream", need, available, f"{ratio}: nothing available, stream")
    if need < PRELOAD_SHARE * available:
        return Strategy("preload", need, available, f"{ratio}: under {PRELOAD_SHARE:g} x available, preload")
    if need < LAZY_FACTOR * available:
        return Strategy("lazy", need, available, f"{ratio}: under {LAZY_FACTOR:g} x available, lazy with a cache")
    return Strategy("stream", need, available, f"{ratio}: {LAZY_FACTOR:g} x available or more, stream")


def _processes(workers: int) -> int:
    """DataLoader workers each hold their own copy or cache; 0 workers means the main process loads."""
    return max(workers, 1)


def reader_strategy(total_bytes: int, available: int, workers: int) -> Strategy:
    """The rule for a reader used by `workers` DataLoader processes: each preloads its own copy, so preloading
    must fit once per worker; whether a cache is worth it depends on the data's size alone."""
    copies = total_bytes * _processes(workers)
    strategy = choose_strategy(copies, available)
    if strategy.kind == "preload":
        return strategy
    alone = choose_strategy(total_bytes, available)
    if alone.kind == "preload":
        return Strategy("lazy", total_bytes, available, f"{alone.reasoning}, but {_processes(workers)} worker "
                        f"copies take {copies / MB:.0f} MB: lazy with a cache per worker")
    return alone


@dataclass(frozen=True)
class SegmentReaderSettings:
    """`SegmentDataset(index, mode=..., cache_files=...)`."""

    mode: Literal["preload_all", "lru", "on_demand"]
    cache_files: int
    strategy: Strategy


def segment_reader_settings(total_bytes: int, largest_file_bytes: int, available: int,
                            workers: int = 0) -> SegmentReaderSettings:
    """Preloading copies every file into each worker; an LRU cache holds whole files, `cache_files` per worker."""
    strategy = reader_strategy(total_bytes, available, workers)
    if strategy.kind == "preload":
        return SegmentReaderSettings("preload_all", 1, strategy)
    budget = CACHE_SHARE * available / _processes(workers)
    files = math.floor(budget / largest_file_bytes) if largest_file_bytes > 0 else 0
    if strategy.kind == "lazy" and files >= 1:
        return SegmentReaderSettings("lru", files, strategy)
    return SegmentReaderSettings("on_demand", 1, strategy)


@dataclass(frozen=True)
class GoproLoaderSettings:
    """`GoproSpikeDataset.from_config(config, split, mode, cache_bytes=...)`; the cache is per worker."""

    cache_bytes: int
    strategy: Strategy


def gopro_loader_settings(total_bytes: int, available: int, workers: int = 0) -> GoproLoaderSettings:
    """Preload: a cache as large as the split, so every sample stays once read. Lazy: the cache share of
    available memory split among the workers. Stream: no cache."""
    strategy = reader_strategy(total_bytes, available, workers)
    if strategy.kind == "preload":
        return GoproLoaderSettings(total_bytes, strategy)
    if strategy.kind == "lazy":
        return GoproLoaderSettings(min(total_bytes, math.floor(CACHE_SHARE * available / _processes(workers))),
                                   strategy)
    return GoproLoaderSettings(0, strategy)


@dataclass(frozen=True)
class ReplaySettings:
    """`ReplaySampler(index, prefetch=...)`: the sampler always reads rows lazily through the index; what
    memory decides is how many batches it reads ahead (each holds `batch_bytes` of images). `need`: bytes of
    every process together: per process the index and its live batches, plus the DataLoader's in-flight ones."""

    prefetch: int
    strategy: Strategy
    need: int = 0


def loader_prefetch_batches(workers: int, prefetch_factor: int) -> int:
    """Batches a DataLoader holds loaded ahead: `prefetch_factor` per worker (none without workers)."""
    return workers * prefetch_factor if workers > 0 else 0


def replay_settings(index_bytes: int, batch_bytes: int, source_bytes: int, available: int, *,
                    workers: int = 0, prefetch_factor: int = 2) -> ReplaySettings:
    """The strategy reports whether the sources would fit in the page cache; prefetch needs room for the
    read-ahead batches beside the index and the batch in use, in every process.

    With DataLoader workers each worker holds its own sampler (index, the batch it reads, the one it hands over)
    and the loader keeps `prefetch_factor` batches per worker in shared memory: that is the read-ahead, so the
    sampler's own prefetch thread stays off (it would add `prefetch` more batches per worker, 2 x 230 MB at 256
    x 224 px)."""
    strategy = choose_strategy(source_bytes, available)
    processes = _processes(workers)
    in_flight = loader_prefetch_batches(workers, prefetch_factor) * batch_bytes
    base = processes * (index_bytes + 2 * batch_bytes) + in_flight  # see estimators.replay_sampler_bytes
    room = PRELOAD_SHARE * available - base
    fits = room >= processes * PREFETCH_BATCHES * batch_bytes
    prefetch = PREFETCH_BATCHES if fits and workers == 0 else 0
    return ReplaySettings(prefetch, strategy, base + processes * prefetch * batch_bytes)
