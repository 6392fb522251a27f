"""Worker counts as the configuration takes them: `4`, `auto` or `cpu*0.9`, read by their syntax alone.

One type for every setting that says how many workers (bags at once, GoPro sequences at once, DataLoader
workers), checked here without looking at the machine: `cpu*0.05` is valid on 4 cores as on 32. What a count
comes to on the machine is decided when the stage is planned (`dataprep.memory.resolve_workers`), and what
`auto` means is the stage's own: the memory plan for bags, a share of the CPUs for readers and sequences.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

AUTO = "auto"
SYNTAX = "give an integer, 'auto' or 'cpu*RATIO' (e.g. 'cpu*0.9')"
_RATIO = re.compile(r"^\s*cpus?\s*\*\s*([0-9]*\.?[0-9]+)\s*$")


def parse_worker_count(value: object) -> int | str:
    """An int >= 0, `"auto"`, or `"cpu*R"` with R > 0 (normalised to `cpu*R`); ValueError naming the value."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"worker count {value!r}: {SYNTAX}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"worker count {value} is negative")
        return value
    text = value.strip().lower()
    if text.isdigit():
        return int(text)
    if text == AUTO:
        return AUTO
    if (match := _RATIO.match(text)) is None or float(match.group(1)) <= 0:
        raise ValueError(f"worker count {value!r}: {SYNTAX}")
    return f"cpu*{match.group(1)}"


def cpu_share(count: int | str) -> float | None:
    """The share of the CPUs a parsed `cpu*R` count asks for; None for an int or `auto`."""
    if isinstance(count, str) and count != AUTO:
        return float(count.removeprefix("cpu*"))
    return None


def at_least_one(count: int | str) -> int | str:
    """For settings where 0 workers means nothing would run (bags, sequences)."""
    if count == 0:
        raise ValueError("at least 1 worker is needed")
    return count


# An int, "auto" or "cpu*R", checked by syntax: what it comes to is decided at plan time, on the machine
WorkerCount = Annotated[int | str, BeforeValidator(parse_worker_count)]
