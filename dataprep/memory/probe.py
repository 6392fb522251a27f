"""Measure a bag conversion's peak RSS in fresh processes: the check of every estimate and of a chunk size.

Each run is a new interpreter (`python -m dataprep.memory.probe SPEC_JSON`) so nothing a previous run
allocated is counted, and its peak RSS comes from the kernel (`os.wait4`), not from the child's own report.
Several configurations run at once, each into its own output, as a pool of bag workers would; their peaks
are summed (an upper bound of what they held together).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.errors import DataprepError
from dataprep.memory.coefficients import Coefficients, load_coefficients
from dataprep.memory.conversion import estimate_conversion
from dataprep.memory.snapshot import MB
from dataprep.memory.sources import read_bag_figures


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


def _wait(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Peak RSS (bytes) and stdout of a finished child; an error with its stderr when it failed."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read() if process.stdout else ""
    err = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise DataprepError(f"measured conversion failed (exit {process.returncode}): {err.strip()[-2000:]}")
    return usage.ru_maxrss * 1024, out


def measure_conversion(configs: Sequence[ConvertConfig], bag: Path) -> Measurement:
    """Convert `bag` once per configuration, all at once, each in its own process (give each its own
    output_root)."""
    if not configs:
        raise DataprepError("measure_conversion needs at least one configuration")
    start = time.perf_counter()
    children = [
        subprocess.Popen([sys.executable, "-m", "dataprep.memory.probe", _spec(config, bag)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for config in configs
    ]
    results = [_wait(child) for child in children]
    seconds = time.perf_counter() - start
    frames = sum(json.loads(out.strip().splitlines()[-1])["frames"] for _, out in results)
    return Measurement(tuple(peak for peak, _ in results), seconds, frames)


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
    from dataprep.conversion import convert_bag

    spec = json.loads(spec_json)
    conversion = convert_bag(ConvertConfig.model_validate(spec["config"]), Path(spec["bag"]))
    print(json.dumps({"frames": conversion.frames}))


if __name__ == "__main__":
    _main(sys.argv[1])
