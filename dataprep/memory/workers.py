"""How many worker processes or threads to use, from a number or a share of the CPUs.

One parser for every place that takes a worker count (stage task runners, DataLoader workers), so
`"auto"`, `"cpu*0.9"` and `4` mean the same everywhere.
"""

from __future__ import annotations

import math
import os
import re

from dataprep.errors import DataprepError

AUTO_SHARE = 0.8  # "auto": leave a fifth of the CPUs to the main process and the system
_RATIO = re.compile(r"^\s*cpus?\s*\*\s*([0-9]*\.?[0-9]+)\s*$")

WorkerSpec = int | str


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(spec: WorkerSpec, cpus: int | None = None, *, minimum: int = 1) -> int:
    """`int` as given; `"auto"` = CPUs x 0.8; `"cpu*R"` = CPUs x R; rounded down, never below `minimum`.

    An int may be 0 (e.g. DataLoader's "load in the main process"); ratios and auto give at least `minimum`.
    """
    cpus = cpu_count() if cpus is None else cpus
    if isinstance(spec, bool):
        raise DataprepError(f"worker count {spec!r}: give an integer, 'auto' or 'cpu*RATIO'")
    if isinstance(spec, int):
        if spec < 0:
            raise DataprepError(f"worker count {spec} is negative")
        return spec
    text = spec.strip().lower()
    if text.isdigit():
        return int(text)
    if text == "auto":
        share = AUTO_SHARE
    elif match := _RATIO.match(text):
        share = float(match.group(1))
    else:
        raise DataprepError(f"worker count {spec!r}: give an integer, 'auto' or 'cpu*RATIO' (e.g. 'cpu*0.9')")
    return max(minimum, math.floor(cpus * share))
