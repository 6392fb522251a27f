"""The conversion's plan and conclusion: which bags, how many at once, and the dataset assembled from the bags
that converted, under the dataset's lock. `stage.ConversionStage` puts them in the stage contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.bag_to_episodes import build_schema
from dataprep.conversion.commit import (
    bags_to_convert,
    changed_since_commit,
    committed_record,
    committed_sources,
    compact_if_due,
    in_plan_order,
    remove_staged_bags,
)
from dataprep.conversion.containment import run_level_errors
from dataprep.conversion.memory_plan import ConversionMemoryPlan, resolve_conversion_config
from dataprep.conversion.quality_report import quality_files
from dataprep.conversion.staging import BagConversion, lock_path, settings_hash, staging_root
from dataprep.conversion.workers import BagWorkers, memory_planned_workers, plan_bag_workers
from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import COMMIT_PATH
from dataprep.lerobot.episode_writer import StagedEpisode
from dataprep.lerobot.finalize import Commit, DatasetSummary, committed_summary, finalize_dataset
from dataprep.lerobot.packing import PackLimits
from dataprep.lerobot.quality_files import QualityDocument, QualityTotals, read_latest
from dataprep.rosbag.discover import expand_bags
from dataprep.stages import UnitFailure
from dataprep.storage import output_lock
from dataprep.storage.crashpoints import crash_point
from dataprep.storage.inputs import Rejected
from dataprep.storage.lock import LockHolder
from dataprep.storage.writable import ensure_writable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversionPlan:
    """The bags to convert, in episode order, where the result goes, the memory plan (`config` is the
    configuration with `chunk_size` resolved: what the bag conversions take), and how many bags at once."""

    bags: tuple[Path, ...]
    staging: Path
    root: Path
    config: ConvertConfig
    memory: ConversionMemoryPlan
    workers: BagWorkers
    rejected: tuple[Rejected, ...] = ()  # input paths not opened (a FIFO, a symlink loop...): failed bags
    changed: tuple[Path, ...] = ()  # committed bags whose files changed since: kept as committed, said so


@dataclass(frozen=True)
class ConversionReport:
    """A finished conversion: the dataset, how each bag went (drops and their reasons), what was skipped."""

    dataset: DatasetSummary
    bags: tuple[BagConversion, ...]
    skipped: tuple[UnitFailure, ...] = ()  # bags left out under on_bag_error: skip
    # the dataset's quality totals and the entries of the episodes this run added (meta/quality.json's head
    # and this commit's part); empty when the dataset has no report
    quality: QualityDocument = field(default_factory=lambda: QualityDocument(QualityTotals(""), (), ()))
    changed: tuple[str, ...] = ()  # committed bags whose files changed since; the dataset holds their old content


def plan_conversion(config: ConvertConfig) -> ConversionPlan:
    """Resolve the configured bags, recover the dataset from an interrupted run, and leave out the bags it
    already holds (append mode, see `commit`). The bundled sample, when configured, is written before any stage
    runs (`dataprep.sample.write_missing_samples`)."""
    expansion = expand_bags(config.input.bags)
    bags = expansion.found
    ensure_writable(config.output_root)  # a read-only output fails here, once, not once per bag
    record = committed_record(config, settings_hash(config))
    todo = bags_to_convert(bags, record, config)
    changed = changed_since_commit(bags, record, config)
    resolved, memory = resolve_conversion_config(  # a run that cannot fit fails here, naming what to change
        config, todo, workers=memory_planned_workers(config, len(todo)))
    return ConversionPlan(bags=todo, staging=staging_root(config), root=config.dataset_root, config=resolved,
                          memory=memory, workers=plan_bag_workers(resolved, len(todo)),
                          rejected=expansion.rejected, changed=changed)


def rejected_failures(plan: ConversionPlan) -> list[UnitFailure]:
    """The input paths the plan refused to open, as failed bags (listed first, before the bags that ran)."""
    return [UnitFailure(str(r.path), "bad-input", f"bag {r.path}: {r.reason}") for r in plan.rejected]


def failure_hint(config: ConvertConfig, conversions: Sequence[BagConversion]) -> str:
    """What to do when failed bags stop the run, for the setting in force: `skip` only helps when some bag
    converted (there are others to assemble)."""
    if conversions and config.on_bag_error == "fail":
        return "set on_bag_error: skip to assemble the others, or fix the bags listed below and rerun"
    return ("no bag converted, so there is nothing to assemble: fix the bags listed below (or remove them from "
            "input.bags) and rerun")


def finalize_conversion(config: ConvertConfig, conversions: Sequence[BagConversion]) -> DatasetSummary:
    """Pack the staged episodes of `conversions` (in plan order) into the dataset at `config.dataset_root` and
    commit it with its quality report; in append mode after the committed episodes."""
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
    append = config.mode == "append"
    documents = quality_files(config, conversions, config.dataset_root if append else None)
    commit = Commit(append, settings_hash(config), committed_sources(conversions), documents,
                    config.stats_quantiles)
    limits = PackLimits(config.data_files_size_in_mb, config.video_files_size_in_mb, config.chunks_size)
    with run_level_errors(config.output_root):
        summary = finalize_dataset(staged, config.dataset_root, config.repo_id, build_schema(config, first.dims),
                                   limits, commit)
    crash_point("before-staging-cleanup")
    remove_staged_bags(config, commit.sources)
    compact_if_due(config)
    return summary


def conclude_conversion(config: ConvertConfig, conversions: Sequence[BagConversion],
                        failures: Sequence[UnitFailure], changed: Sequence[Path] = ()) -> ConversionReport:
    """Commit the dataset, unless a bag failed and `on_bag_error` is `fail`: then list every failure.

    Every bag has been attempted by now, so one run reports all bad bags at once, and the bags that did
    convert stay staged: the rerun after a fix reads only what failed. With no new bag converted in append mode
    the committed dataset is reported as it is (under `skip`, with the new bags that failed listed).
    """
    root = config.dataset_root
    committed = not conversions and config.mode == "append" and (root / COMMIT_PATH).is_file()
    if failures and (config.on_bag_error == "fail" or not (conversions or committed)):
        listing = "\n".join(failure.block() for failure in failures)
        raise DataprepError(
            f"{len(failures)} of {len(failures) + len(conversions)} bag(s) failed, so {config.dataset_root} "
            f"was not written ({failure_hint(config, conversions)}):\n{listing}"
        )
    for failure in failures:
        logger.info("left out of %s: %s: %s", config.repo_id, failure.unit, failure.message)  # the report lists them
    if committed:  # under skip, new bags that failed leave the committed dataset as it is, and are listed
        logger.info("%s holds every planned bag that converted already; nothing to append", root)
        totals = read_latest(root)
        quality = QualityDocument(totals.totals, (), ()) if totals else QualityDocument(QualityTotals(""), (), ())
        return ConversionReport(committed_summary(root, config.repo_id), (), tuple(failures), quality,
                                tuple(map(str, changed)))
    ordered = in_plan_order(conversions)
    summary = finalize_conversion(config, ordered)
    quality = read_latest(summary.root) or QualityDocument(QualityTotals(config.repo_id), (), ())
    return ConversionReport(summary, tuple(ordered), tuple(failures), quality, tuple(map(str, changed)))


def with_absolute_paths(config: ConvertConfig) -> ConvertConfig:
    """The configuration with `output_root` absolute, so worker processes (whose working folder may differ)
    and the final assembly all write the same place."""
    return config.model_copy(update={"output_root": config.output_root.absolute()})


@contextmanager
def conversion_lock(config: ConvertConfig) -> Iterator[LockHolder]:
    """Hold the dataset's lock for a whole run; a second run on the same dataset is refused at once, naming
    this one. The output is checked writable first, so a read-only one fails with that message, once."""
    ensure_writable(config.output_root)
    with output_lock(lock_path(config), f"dataset {config.dataset_root}") as holder:
        yield holder
