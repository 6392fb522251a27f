"""What a conversion run builds on: the committed dataset, the bags still missing from it, and the cleanup after.

At the start of every run an interrupted swap is finished or rolled back (`recover_dataset`). In `append`
mode (the default, for nightly runs) the commit record says which bags the dataset holds: those are not
converted again, new bags become episodes after the committed ones; a dataset without a record is
adopted (`adopt.py`). The record's settings hash must equal this run's: episodes converted with other
settings are never mixed into one dataset. `rebuild` mode builds the whole dataset from every planned
bag. Once a version is committed, the staged copies of its bags are deleted: the dataset holds them now
(one copy on disk).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.adopt import adopt_dataset
from dataprep.conversion.staging import STAGING_FOLDER, BagConversion, bag_key, staging_root
from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import CommitRecord, CommittedSource, recover_dataset
from dataprep.lerobot.layout import INFO_PATH

logger = logging.getLogger(__name__)

REBUILD_HINT = "rerun with --set rosbag_to_lerobot.mode=rebuild (or mode: rebuild), or write to a new repo_id"


def committed_record(config: ConvertConfig, settings: str) -> CommitRecord | None:
    """The record an append run builds on (None: no dataset yet, or `rebuild`), after recovering a crash.

    A v3.0 dataset without a record (written or edited by lerobot's tools) is adopted (`adopt.py`): its
    episodes stay as they are and new bags go after them. Refuses one converted with other settings; a
    record without a settings hash ("") holds episodes converted elsewhere, which any settings may follow.
    """
    root = config.dataset_root
    recover_dataset(root)
    if config.mode == "rebuild" or not (root / INFO_PATH).is_file():
        return None
    record = CommitRecord.load(root)
    if record is None:
        record = adopt_dataset(root)
    if record.settings_hash not in (settings, ""):
        raise DataprepError(
            f"{root} was converted with other settings (settings hash {record.settings_hash}, this "
            f"configuration's is {settings}); appending would mix episodes converted differently; {REBUILD_HINT}"
        )
    remove_staged_bags(config, record.sources)  # a crash after the last commit may have left them
    return record


def bags_to_convert(bags: Sequence[Path], record: CommitRecord | None, config: ConvertConfig) -> tuple[Path, ...]:
    """The planned bags the dataset does not hold yet (all of them without a record).

    A committed bag whose files changed since (its staging key differs) is not converted again: that would
    duplicate its episodes. The log says so, and how to take the change in.
    """
    if record is None:
        return tuple(bags)
    committed = {source.path: source.staging_key for source in record.sources}
    missing = tuple(bag for bag in bags if str(bag.resolve()) not in committed)
    for bag in changed_since_commit(bags, record, config):
        logger.warning("%s %s", bag, CHANGED_NOTE)
    if len(missing) < len(bags):
        logger.info("%d of %d bag(s) are in the dataset already; %d to convert",
                    len(bags) - len(missing), len(bags), len(missing))
    return missing


CHANGED_NOTE = ("changed since its episodes were committed; the dataset still holds the old content (this run "
                f"does not convert it again); to convert it again, {REBUILD_HINT}")


def changed_since_commit(bags: Sequence[Path], record: CommitRecord | None, config: ConvertConfig
                         ) -> tuple[Path, ...]:
    """The planned bags the dataset holds whose files changed since (their staging key differs now)."""
    if record is None:
        return ()
    committed = {source.path: source.staging_key for source in record.sources}
    return tuple(bag for bag in bags if str(bag.resolve()) in committed
                 and committed[str(bag.resolve())] != bag_key(bag, config))


def in_plan_order(conversions: Sequence[BagConversion]) -> list[BagConversion]:
    """Bags by input path, each one's episodes by start time: episode numbers do not depend on which bag a
    worker finished first."""
    ordered = sorted(conversions, key=lambda c: c.bag)
    return [replace(c, episodes=tuple(sorted(c.episodes, key=lambda e: e.span_s[0]))) for c in ordered]


def committed_sources(conversions: Sequence[BagConversion]) -> tuple[CommittedSource, ...]:
    """The commit record's entries of `conversions` (in plan order), episode ranges counted from 0."""
    sources, start = [], 0
    for conversion in conversions:
        end = start + len(conversion.episodes)
        sources.append(CommittedSource(str(Path(conversion.bag).resolve()), conversion.key, start, end))
        start = end
    return tuple(sources)


def remove_staged_bags(config: ConvertConfig, sources: Sequence[CommittedSource]) -> None:
    """Delete the staging folders of committed bags (and the staging folders above them once empty)."""
    root = staging_root(config)
    for source in sources:
        folder = root / source.staging_key
        if folder.exists():
            shutil.rmtree(folder)
            logger.debug("removed %s: its episodes are committed", folder)
    top = config.output_root / STAGING_FOLDER
    while root.is_dir() and not any(root.iterdir()) and root.is_relative_to(top):
        root.rmdir()  # `.staging/<owner>/<name>`, then its parents once empty
        root = root.parent


def compact_if_due(config: ConvertConfig) -> bool:
    """In append mode, compact the dataset just committed when more than `compact_after_files` files could be
    merged away; the run holds the dataset's lock already. True when it compacted."""
    from dataprep.edit.compact import compact_unlocked, partly_filled_files  # the edit package imports this one

    if config.mode != "append" or config.compact_after_files is None:
        return False
    mergeable = partly_filled_files(config.dataset_root)
    if mergeable <= config.compact_after_files:
        return False
    logger.info("%s: %d files can be merged (compact_after_files: %d): compacting", config.dataset_root,
                mergeable, config.compact_after_files)
    return compact_unlocked(config.dataset_root).changed

