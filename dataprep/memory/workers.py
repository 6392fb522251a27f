"""How many worker processes or threads a worker count comes to on this machine, at plan time.

The configuration checks a count's syntax only (`dataprep.config.workers`); here `"auto"`, `"cpu*0.9"` and `4`
meet the CPUs this process may use, the same way for every place that takes a count (stage task runners,
DataLoader workers). The bag conversion's `auto` is the memory plan's (`dataprep.conversion.memory_plan`).
"""

from __future__ import annotations

import math
import os

from dataprep.config.workers import AUTO, cpu_share, parse_worker_count
from dataprep.errors import DataprepError

AUTO_SHARE = 0.8  # "auto": leave a fifth of the CPUs to the main process and the system


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(spec: int | str, cpus: int | None = None, *, minimum: int = 1) -> int:
    """`int` as given; `"auto"` = CPUs x 0.8; `"cpu*R"` = CPUs x R; rounded down, never below `minimum`.

    An int may be 0 (e.g. DataLoader's "load in the main process"); ratios and auto give at least `minimum`.
    """
    try:
        count = parse_worker_count(spec)
    except ValueError as err:
        raise DataprepError(str(err)) from None
    if isinstance(count, int):
        return count
    cpus = cpu_count() if cpus is None else cpus
    share = AUTO_SHARE if count == AUTO else cpu_share(count)
    assert share is not None
    return max(minimum, math.floor(cpus * share))
