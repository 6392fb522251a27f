"""Memory: measuring it (the machine, this process, a fresh child) and the pure formulas and rules that size work.

`monitor` and `snapshot` read the machine; `measure` runs a piece of work in a fresh interpreter for its peak;
`estimators` are byte formulas; `strategy` chooses preload / lazy / stream; `coefficients` holds the measured
numbers the formulas use; `batch` sizes batches and DataLoaders; `workers` resolves a worker count on this
machine. Each stage plans its own memory from these (`dataprep.conversion.memory_plan`,
`dataprep.gopro.memory_plan`, `dataprep.hdf5.memory_plan`); every planner takes the machine's figures as an
argument, so plans are testable anywhere. Import the formulas from their modules; the facade holds what
other packages use most, and what training code calls (`plan_loader`, `read_gpus`).
"""

from dataprep.memory.batch import plan_loader
from dataprep.memory.coefficients import Coefficients, load_coefficients
from dataprep.memory.monitor import SystemMemory, memory_report, read_gpus, read_system
from dataprep.memory.snapshot import MB, take_snapshot
from dataprep.memory.stage_plan import StagePlan
from dataprep.memory.workers import cpu_count, resolve_workers

__all__ = [
    "MB",
    "Coefficients",
    "StagePlan",
    "SystemMemory",
    "cpu_count",
    "load_coefficients",
    "memory_report",
    "plan_loader",
    "read_gpus",
    "read_system",
    "resolve_workers",
    "take_snapshot",
]
