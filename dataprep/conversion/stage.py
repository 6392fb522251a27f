"""Conversion as a stage of the contract (`dataprep.stages`): the units are bags, each staged on its own.

`ConversionStage` says what the executors need: the bags in episode order, largest first to start, one bag's
conversion, the bag's claim file, the wording of a bag's failure, and the conclusion (assembly under the
`on_bag_error` setting). Where bags run (this process, a pool, Prefect tasks) is the executor's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from typing_extensions import override

from dataprep.config import ConvertConfig
from dataprep.conversion.bag_to_episodes import ChunkCallback, convert_bag
from dataprep.conversion.containment import contained_failure
from dataprep.conversion.dataset import (
    ConversionPlan,
    ConversionReport,
    conclude_conversion,
    conversion_lock,
    plan_conversion,
    rejected_failures,
    with_absolute_paths,
)
from dataprep.conversion.staging import BagConversion, bag_key, lock_path
from dataprep.conversion.workers import largest_first
from dataprep.errors import DataprepError
from dataprep.lerobot.video import set_encoder_threads
from dataprep.stages import LocalExecutor, Report, Stage, StageOutcome, run_stage
from dataprep.stages.claim import CLAIM_SUFFIX
from dataprep.stages.failure import interrupted


def bag_claim_path(config: ConvertConfig, bag: Path) -> Path:
    """The bag's claim, beside the dataset's lock (`<output_root>/.locks/<repo_id>.claims/<bag key>.claim`):
    outside the staging folder, which is removed once its bags are committed."""
    lock = lock_path(config)
    return lock.with_name(f"{lock.stem}.claims") / f"{bag_key(bag, config)}{CLAIM_SUFFIX}"


@dataclass(frozen=True)
class ConversionStage(Stage[ConversionPlan, Path, BagConversion, ConversionReport]):
    """The conversion of `config` (with `output_root` absolute: workers may run in another folder)."""

    config: ConvertConfig
    name = "rosbag_to_lerobot"
    preload = ("dataprep.conversion",)  # the converter imported once in the forkserver, not in every worker

    @override
    def plan(self) -> ConversionPlan:
        return plan_conversion(self.config)

    @override
    def units(self, plan: ConversionPlan) -> Sequence[Path]:
        return [bag.absolute() for bag in plan.bags]

    @override
    def run_unit(self, plan: ConversionPlan, unit: Path, report: Report | None = None) -> BagConversion:
        return convert_bag(plan.config, unit, report)

    @override
    def conclude(self, plan: ConversionPlan, outcome: StageOutcome[BagConversion]) -> ConversionReport:
        failures = [*rejected_failures(plan), *outcome.failures]
        return conclude_conversion(plan.config, outcome.results, failures, plan.changed)

    @override
    def name_failure(self, unit: Path, err: BaseException) -> DataprepError | None:
        return None if interrupted(err) else contained_failure(err, unit, self.config.output_root)

    @override
    def workers(self, plan: ConversionPlan) -> int:
        return plan.workers.workers

    @override
    def start_order(self, plan: ConversionPlan, units: Sequence[Path]) -> Sequence[Path]:
        return largest_first(units)

    @override
    def claim_path(self, plan: ConversionPlan, unit: Path) -> Path:
        return bag_claim_path(self.config, unit)

    @override
    def prepare_worker(self, plan: ConversionPlan) -> None:
        set_encoder_threads(plan.workers.encoder_threads)  # this worker's share of the cores for its encoders


def convert_dataset(config: ConvertConfig, on_chunk: ChunkCallback | None = None) -> ConversionReport:
    """Plan, convert every bag (`max_workers` at once), conclude: the whole conversion without Prefect, under
    the dataset's lock. `on_chunk` gets every bag's chunk reports in this process, whichever worker converts it.
    """
    config = with_absolute_paths(config)
    with conversion_lock(config):
        return run_stage(ConversionStage(config), LocalExecutor(on_chunk))


__all__ = ["ConversionStage", "bag_claim_path", "convert_dataset"]
