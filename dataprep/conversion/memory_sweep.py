"""Measure a bag conversion's peak RSS in fresh processes: the check of every estimate and of a chunk size.

Each run is a new interpreter (`python -m dataprep.conversion.memory_sweep SPEC_JSON`, started by
`dataprep.memory.measure`) so nothing a previous run allocated is counted; it reports its own high-water mark.
`flows.memory_report --sweep` shows the sweep; `bench/memory_bench.py --calibrate` fits the coefficients to
these measurements.
Several configurations run at once, each into its own output, as a pool of bag workers would; their peaks
are summed (an upper bound of what they held together).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.memory_figures import read_bag_figures
from dataprep.conversion.memory_plan import estimate_conversion
from dataprep.errors import DataprepError
from dataprep.memory import MB, Coefficients, load_coefficients
from dataprep.memory.measure import spawn, wait_json
from dataprep.memory.snapshot import peak_rss


@dataclass(frozen=True)
class Measurement:
    """One setting: the peak RSS of each conversion process (bytes), the wall time, the frames written."""

    peaks: tuple[int, ...]
    seconds: float
    frames: int

    @property
    def peak(self) -> int:
        return sum(self.peaks)


def _spec(config: ConvertConfig, bag: Path) -> str:
    return json.dumps({"config": config.model_dump(mode="json"), "bag": str(bag)})


def measure_conversion(configs: Sequence[ConvertConfig], bag: Path) -> Measurement:
    """Convert `bag` once per configuration, all at once, each in its own process (give each its own
    output_root)."""
    if not configs:
        raise DataprepError("measure_conversion needs at least one configuration")
    start = time.perf_counter()
    children = [spawn(["-m", "dataprep.conversion.memory_sweep", _spec(config, bag)]) for config in configs]
    results = [wait_json(child) for child in children]
    seconds = time.perf_counter() - start
    return Measurement(tuple(r["peak_rss"] for r in results), seconds, sum(r["frames"] for r in results))


@dataclass(frozen=True)
class SweepRow:
    """One chunk size: the estimate and the measured peak RSS of a conversion in a fresh process, side by side."""

    chunk_size: int
    estimate: int  # bytes
    measured: int  # bytes
    seconds: float
    frames: int

    @property
    def error(self) -> float:
        """(estimate - measured) / measured: positive when the estimate is on the safe side."""
        return (self.estimate - self.measured) / self.measured if self.measured else 0.0

    def as_row(self) -> dict[str, float | int]:
        return {"chunk_size": self.chunk_size, "estimate_mb": round(self.estimate / MB),
                "peak_rss_mb": round(self.measured / MB), "error_pct": round(100 * self.error, 1),
                "seconds": round(self.seconds, 1), "frames": self.frames}


def sweep_chunk_sizes(config: ConvertConfig, bag: Path, chunk_sizes: Sequence[int], workdir: Path,
                      coefficients: Coefficients | None = None) -> list[SweepRow]:
    """Convert `bag` once per chunk size, one fresh process each, into `workdir/chunk-<n>` (the design notes'
    memory test for choosing a chunk size)."""
    coefficients = load_coefficients() if coefficients is None else coefficients
    config = config.model_copy(update={"input": config.input.model_copy(update={"bags": (str(bag),)})})
    figures = read_bag_figures(config, [bag])
    rows = []
    for chunk in chunk_sizes:
        if chunk < 1:
            raise DataprepError(f"--sweep: chunk_size {chunk} must be >= 1")
        run = config.model_copy(update={"chunk_size": chunk, "output_root": workdir / f"chunk-{chunk}"})
        estimate = estimate_conversion(run, figures, chunk, 1, coefficients)
        measured = measure_conversion([run], bag)
        rows.append(SweepRow(chunk, estimate.need, measured.peak, measured.seconds, measured.frames))
    return rows


def _main(spec_json: str) -> None:
    from dataprep.conversion.bag_to_episodes import convert_bag

    spec = json.loads(spec_json)
    try:
        conversion = convert_bag(ConvertConfig.model_validate(spec["config"]), Path(spec["bag"]))
    except DataprepError as err:  # bad input: its message is what the parent shows, no traceback
        sys.exit(str(err))
    print(json.dumps({"frames": conversion.frames, "peak_rss": peak_rss()}))


if __name__ == "__main__":
    _main(sys.argv[1])
