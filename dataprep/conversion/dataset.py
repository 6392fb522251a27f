"""A whole conversion without Prefect: plan the bags, convert each in turn, assemble the dataset.

The Prefect flow calls the same three steps as tasks; this module is what scripts and tests use directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.config import ConvertConfig
from dataprep.conversion.bag_to_episodes import ChunkCallback, build_schema, convert_bag
from dataprep.conversion.containment import run_level_errors
from dataprep.conversion.quality_report import finish_quality_report
from dataprep.conversion.staging import BagConversion, staging_root
from dataprep.errors import DataprepError, RunError
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.finalize import DatasetSummary, finalize_dataset
from dataprep.memory.conversion import ConversionMemoryPlan, resolve_conversion_config
from dataprep.rosbag import find_bags
from dataprep.sample.kuavo_bag import ensure_kuavo_sample
from dataprep.storage import ensure_writable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversionPlan:
    """The bags to convert, in episode order, where the result goes, and the memory plan (`config` is the
    configuration with `chunk_size` resolved: what the bag conversions take)."""

    bags: tuple[Path, ...]
    staging: Path
    root: Path
    config: ConvertConfig
    memory: ConversionMemoryPlan


@dataclass(frozen=True)
class BagFailure:
    """A bag that could not be converted, and why (the message names the bag, topic or field)."""

    bag: str
    error: str

    @property
    def cause(self) -> str:
        """The error without the bag's name in front (where the bag is named already)."""
        return self.error.removeprefix(f"bag {self.bag}: ")

    def block(self) -> str:
        """The failure as the console shows it: the bag on its own line, the cause indented below."""
        return f"- {self.bag}\n    " + self.cause.replace("\n", "\n    ")


@dataclass(frozen=True)
class ConversionReport:
    """A finished conversion: the dataset, how each bag went (drops and their reasons), what was skipped."""

    dataset: DatasetSummary
    bags: tuple[BagConversion, ...]
    skipped: tuple[BagFailure, ...] = ()
    quality: dict[str, Any] = field(default_factory=dict)  # what meta/quality.json holds


def plan_conversion(config: ConvertConfig) -> ConversionPlan:
    """Resolve the configured bags (writing the bundled sample first when configured so)."""
    if config.input.generate_sample_if_missing:
        if len(config.input.bags) != 1:
            raise DataprepError("input.generate_sample_if_missing needs exactly one bag path in input.bags")
        sample = Path(config.input.bags[0])
        if not sample.exists():
            logger.info("writing the bundled sample recording to %s", sample)
            ensure_kuavo_sample(sample)
    bags = tuple(find_bags(config.input.bags))
    ensure_writable(config.output_root)  # a read-only output fails here, once, not once per bag
    resolved, memory = resolve_conversion_config(config, bags)  # a run that cannot fit fails here
    return ConversionPlan(bags=bags, staging=staging_root(config), root=config.dataset_root, config=resolved,
                          memory=memory)


def finalize_conversion(config: ConvertConfig, conversions: Sequence[BagConversion]) -> DatasetSummary:
    """Assemble the staged episodes, bag by bag in plan order, into the dataset at `config.dataset_root`."""
    if not conversions:
        raise DataprepError(f"{config.repo_id}: no bag was converted, nothing to assemble")
    first = conversions[0]
    for conversion in conversions[1:]:
        if conversion.dims != first.dims:
            raise DataprepError(f"bags {first.bag} and {conversion.bag} give different feature lengths: "
                                f"{first.dims} vs {conversion.dims}")
    staged = [
        StagedEpisode.load(staging_root(config) / conversion.key / episode.folder)
        for conversion in conversions
        for episode in conversion.episodes
    ]
    with run_level_errors(config.output_root):
        return finalize_dataset(staged, config.dataset_root, config.repo_id, build_schema(config, first.dims))


def conclude_conversion(config: ConvertConfig, conversions: Sequence[BagConversion],
                        failures: Sequence[BagFailure]) -> ConversionReport:
    """Assemble the dataset, unless a bag failed and `on_bag_error` is `fail`: then list every failure.

    Every bag has been attempted by now, so one run reports all bad bags at once, and the bags that did
    convert stay staged: the rerun after a fix reads only what failed.
    """
    if failures and (config.on_bag_error == "fail" or not conversions):
        listing = "\n".join(failure.block() for failure in failures)
        raise DataprepError(
            f"{len(failures)} of {len(failures) + len(conversions)} bag(s) failed, so {config.dataset_root} "
            f"was not written (set on_bag_error: skip to assemble the others):\n{listing}"
        )
    for failure in failures:
        logger.info("left out of %s: %s: %s", config.repo_id, failure.bag, failure.error)  # the report lists them
    summary = finalize_conversion(config, conversions)
    with run_level_errors(config.output_root):
        quality = finish_quality_report(config, conversions, summary)
    return ConversionReport(summary, tuple(conversions), tuple(failures), quality)


def convert_dataset(config: ConvertConfig, on_chunk: ChunkCallback | None = None) -> ConversionReport:
    """Plan, convert every bag, conclude: the whole conversion in this process."""
    plan = plan_conversion(config)
    config = plan.config
    conversions: list[BagConversion] = []
    failures: list[BagFailure] = []
    for bag in plan.bags:
        try:
            conversions.append(convert_bag(config, bag, on_chunk))
        except RunError:
            raise  # the output cannot take more: every other bag would fail the same way
        except DataprepError as err:
            failures.append(BagFailure(str(bag), str(err)))
    return conclude_conversion(config, conversions, failures)
