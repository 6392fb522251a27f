"""Memory accounting: psutil snapshots shared by artifacts, logs and planning."""

from dataprep.memory.snapshot import MB, MemorySnapshot, peak_rss, take_snapshot

__all__ = ["MB", "MemorySnapshot", "peak_rss", "take_snapshot"]
