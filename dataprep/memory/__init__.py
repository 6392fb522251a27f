"""Memory accounting: psutil snapshots shared by artifacts, logs and planning; worker counts."""

from dataprep.memory.snapshot import MB, MemorySnapshot, peak_rss, take_snapshot
from dataprep.memory.workers import WorkerSpec, cpu_count, resolve_workers

__all__ = ["MB", "MemorySnapshot", "WorkerSpec", "cpu_count", "peak_rss", "resolve_workers", "take_snapshot"]
