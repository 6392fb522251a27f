"""How much memory a bag conversion needs, and the chunk size and worker count that fit.

One conversion process holds: its base (interpreter, libraries, bag reader), one encoder per camera in video
mode (codec state and frame queue, growing with the frame's pixels), and the rows of one chunk (vectors, and
PNG-encoded images in image mode). Workers are processes, each holding all of that:

    need = workers x (process_base + encoders + chunk_size x bytes per buffered frame)

with coefficients measured on real runs (`dataprep/memory/coefficients.json`). The plan fits `need` into the allowance:
`memory_budget_mb` when set (never more than is available), else the available memory. `chunk_size: auto`
takes the largest rung of CHUNK_LADDER that fits (a fixed ladder, so small changes in free memory do not
change the chunk size, which is part of a staged bag's key); a run that cannot fit fails here, before any bag
is read, naming the settings to change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dataprep.config import ConvertConfig
from dataprep.conversion.memory_figures import BagFigures, read_bag_figures
from dataprep.errors import DataprepError
from dataprep.lerobot.row_buffer import ROW_GROUP_BYTES
from dataprep.memory import MB, Coefficients, StagePlan, SystemMemory, cpu_count, load_coefficients, read_system
from dataprep.rosbag import find_bags

logger = logging.getLogger(__name__)

CHUNK_LADDER = (1000, 300, 100, 30, 10)  # chunk sizes `auto` chooses from, largest first
MIN_PARALLEL_CHUNK = 100  # `max_workers: auto` adds a worker only while chunks of this size still fit


class ConversionMemoryError(DataprepError):
    """The conversion cannot fit in the memory it may use; the message names the settings to change."""


@dataclass(frozen=True)
class ConversionEstimate:
    """The parts of the estimate (bytes), so a plan can say where the memory goes."""

    process_base: int
    encoders: int
    frame_bytes: int  # buffered per frame of a chunk
    chunk_size: int
    workers: int
    buffered_rows: int  # rows held at once: the chunk, or fewer where a row group's PNG bytes reach their bound

    @property
    def per_worker(self) -> int:
        return self.process_base + self.encoders + self.buffered_rows * self.frame_bytes

    @property
    def need(self) -> int:
        return self.workers * self.per_worker

    def describe(self) -> str:
        return (f"{self.workers} worker(s) x ({self.process_base / MB:.0f} MB base + {self.encoders / MB:.0f} MB "
                f"encoders + {self.buffered_rows} x {self.frame_bytes / MB:.2f} MB rows) = {self.need / MB:.0f} MB")


def estimate_conversion(config: ConvertConfig, figures: BagFigures, chunk_size: int, workers: int,
                        coefficients: Coefficients) -> ConversionEstimate:
    """The formula above, for given settings."""
    encoders = 0
    frame = figures.vector_bytes
    pngs = 0
    for camera in figures.cameras.values():
        if config.camera_storage == "video":
            pixels = camera.shape.height * camera.shape.width
            encoders += coefficients.encoder(config.video.codec).bytes_for(pixels)
        else:
            frame += int(camera.png_bytes * coefficients.image_row_ratio)
            pngs += camera.png_bytes
    return ConversionEstimate(int(coefficients.process_base_mb * MB), encoders, frame, chunk_size, workers,
                              buffered_rows(chunk_size, pngs))


def buffered_rows(chunk_size: int, png_bytes_per_frame: int) -> int:
    """Rows the writer holds before it writes a row group: `chunk_size`, or fewer in image mode, where a group
    also ends at the row whose PNGs reach ROW_GROUP_BYTES (dataprep/lerobot/row_buffer.py)."""
    if png_bytes_per_frame <= 0:
        return chunk_size
    return min(chunk_size, -(-ROW_GROUP_BYTES // png_bytes_per_frame))


@dataclass(frozen=True)
class ConversionMemoryPlan:
    """What `plan_bag_conversion` settled on, and why (the reasoning is logged and recorded)."""

    chunk_size: int
    workers: int
    need_bytes: int
    allowance_bytes: int
    estimate: ConversionEstimate
    reasoning: str


def _allowance(config: ConvertConfig, system: SystemMemory) -> tuple[int, str]:
    available = max(system.available, 0)
    if config.memory_budget_mb is None:
        return available, f"available memory {available / MB:.0f} MB"
    budget = config.memory_budget_mb * MB
    if budget > available:
        return available, (f"memory_budget_mb {config.memory_budget_mb} is more than the available "
                           f"{available / MB:.0f} MB: planning for what is available")
    return budget, f"memory_budget_mb {config.memory_budget_mb}"


def _candidates(config: ConvertConfig, workers: int | Literal["auto"], bags: int,
                cpus: int | None) -> list[tuple[int, int]]:
    """(workers, chunk_size) pairs in order of preference: more workers first, then larger chunks."""
    chunks = CHUNK_LADDER if config.chunk_size == "auto" else (config.chunk_size,)
    if workers != "auto":
        return [(workers, chunk) for chunk in chunks]
    cap = max(1, min(cpu_count() if cpus is None else cpus, bags))  # a bag worker keeps about one core busy
    pairs = [(w, c) for w in range(cap, 1, -1) for c in chunks if c >= MIN_PARALLEL_CHUNK or len(chunks) == 1]
    return pairs + [(1, chunk) for chunk in chunks]


def _no_fit_error(config: ConvertConfig, smallest: ConversionEstimate, allowance: str, limit: int) -> str:
    changes = []
    if config.memory_budget_mb is not None:
        changes.append("raise memory_budget_mb (or remove it)")
    rows = smallest.buffered_rows * smallest.frame_bytes
    if config.chunk_size != "auto" and rows >= 0.05 * smallest.per_worker:  # in video mode rows are vectors only
        changes.append(f"lower chunk_size (now {config.chunk_size}) or set chunk_size: auto")
    if smallest.workers > 1:
        changes.append(f"lower max_workers (now {smallest.workers})")
    if smallest.encoders and config.video.codec == "libsvtav1":
        changes.append("set video.codec: h264 (its encoders take about a quarter of SVT-AV1's memory)")
    changes.append("resize the cameras (cameras.<name>.resize)" if smallest.encoders or smallest.frame_bytes > MB
                   else "free memory on this machine")
    return (f"{config.repo_id}: the conversion needs at least {smallest.need / MB:.0f} MB "
            f"({smallest.describe()}) but may use {limit / MB:.0f} MB ({allowance}); "
            + "; ".join(changes))


def plan_bag_conversion(config: ConvertConfig, bags: Sequence[Path], *, workers: int | Literal["auto"] = 1,
                        system: SystemMemory | None = None, coefficients: Coefficients | None = None,
                        figures: BagFigures | None = None, cpus: int | None = None) -> ConversionMemoryPlan:
    """The chunk size and worker count to convert `bags` with (each fixed where the config fixes it).

    Raises `ConversionMemoryError` when even the smallest candidate does not fit.
    """
    if isinstance(workers, int) and workers < 1:
        raise DataprepError(f"workers must be >= 1, got {workers}")
    system = read_system() if system is None else system
    coefficients = load_coefficients() if coefficients is None else coefficients
    figures = read_bag_figures(config, bags) if figures is None else figures
    limit, allowance = _allowance(config, system)
    estimates = [estimate_conversion(config, figures, c, w, coefficients)
                 for w, c in _candidates(config, workers, len(bags), cpus)]
    chosen = next((e for e in estimates if e.need <= limit), None)
    if chosen is None:
        raise ConversionMemoryError(_no_fit_error(config, min(estimates, key=lambda e: e.need), allowance, limit))
    how = "auto: the largest that fits" if config.chunk_size == "auto" else "as configured"
    reasoning = (f"chunk_size {chosen.chunk_size} ({how}), "
                 f"{chosen.workers} worker(s){' (auto)' if workers == 'auto' else ''}: {chosen.describe()}, "
                 f"within {limit / MB:.0f} MB ({allowance}); frames from {figures.source}")
    return ConversionMemoryPlan(chosen.chunk_size, chosen.workers, chosen.need, limit, chosen, reasoning)


def resolve_conversion_config(config: ConvertConfig, bags: Sequence[Path], *,
                              workers: int | Literal["auto"] = 1,
                              system: SystemMemory | None = None) -> tuple[ConvertConfig, ConversionMemoryPlan]:
    """The plan, and a copy of `config` whose `chunk_size` (and `max_workers` when `auto`) are the planned ints
    (what the bag conversions and the worker pool read)."""
    plan = plan_bag_conversion(config, bags, workers=workers, system=system)
    logger.info("memory plan for %s: %s", config.repo_id, plan.reasoning)
    update: dict[str, int] = {"chunk_size": plan.chunk_size}
    if config.max_workers == "auto" and workers == "auto":
        update["max_workers"] = plan.workers
    return config.model_copy(update=update), plan


def plan_bags(config: ConvertConfig, system: SystemMemory) -> StagePlan:
    """The conversion's row of a pipeline's memory plan (`dataprep.pipeline_plan`)."""
    bags = find_bags(config.input.bags)
    plan = plan_bag_conversion(config, bags, system=system)
    return StagePlan("rosbag_to_lerobot", plan.need_bytes, system.available, f"stream, chunks of {plan.chunk_size}",
                     plan.chunk_size, plan.workers, plan.reasoning)
