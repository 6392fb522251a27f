"""What memory there is: the system's, this process's, and each GPU's, read into typed records.

Every planner takes a `SystemMemory` as an argument (`read_system()` is only the default), so plans and
tests never depend on the machine they run on. GPUs are read through torch when torch with CUDA is
importable; without it they are absent (an empty tuple), never an error: data preparation runs on machines
with no GPU and no torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psutil

from dataprep.memory.snapshot import MB, peak_rss

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SystemMemory:
    """The machine's memory (bytes); `available` is what new allocations can take without swapping."""

    total: int
    available: int
    used: int
    percent: float

    @classmethod
    def of(cls, total: int, available: int) -> SystemMemory:
        """Figures given by hand (tests, what-if plans): `used` and `percent` follow from the two."""
        used = max(total - available, 0)
        return cls(total, available, used, round(100.0 * used / total, 1) if total else 0.0)


@dataclass(frozen=True)
class ProcessMemory:
    """This process: resident and virtual size now, and the resident high-water mark (bytes)."""

    rss: int
    vms: int
    peak_rss: int


@dataclass(frozen=True)
class GpuMemory:
    """One CUDA device (bytes)."""

    index: int
    name: str
    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free


@dataclass(frozen=True)
class MemoryReport:
    system: SystemMemory
    process: ProcessMemory
    gpus: tuple[GpuMemory, ...]

    def format(self) -> str:
        """A few aligned lines for a console or a log."""
        s, p = self.system, self.process
        system = (f"system   total {s.total / MB:10.0f} MB  available {s.available / MB:10.0f} MB  "
                  f"used {s.used / MB:10.0f} MB ({s.percent:.1f}%)")
        process = (f"process  rss   {p.rss / MB:10.0f} MB  vms       {p.vms / MB:10.0f} MB  "
                   f"peak rss {p.peak_rss / MB:.0f} MB")
        lines = [system, process]
        lines += [f"gpu {g.index}    {g.name}: total {g.total / MB:.0f} MB, free {g.free / MB:.0f} MB"
                  for g in self.gpus]
        if not self.gpus:
            lines.append("gpu      none (no CUDA device, or torch with CUDA is not installed)")
        return "\n".join(lines)


def read_system() -> SystemMemory:
    vm = psutil.virtual_memory()
    return SystemMemory(total=vm.total, available=vm.available, used=vm.used, percent=vm.percent)


def read_process() -> ProcessMemory:
    info = psutil.Process().memory_info()
    return ProcessMemory(rss=info.rss, vms=info.vms, peak_rss=peak_rss())


def read_gpus() -> tuple[GpuMemory, ...]:
    """Each CUDA device's memory; empty when torch is not installed or sees no CUDA device."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return ()
    try:
        if not torch.cuda.is_available():
            return ()
        devices = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            devices.append(GpuMemory(index, str(torch.cuda.get_device_name(index)), int(total), int(free)))
        return tuple(devices)
    except Exception as err:  # noqa: BLE001 - a broken driver means "no usable GPU" here, not a failed plan
        logger.warning("could not read GPU memory (%s); planning without GPUs", err)
        return ()


def memory_report() -> MemoryReport:
    return MemoryReport(read_system(), read_process(), read_gpus())
