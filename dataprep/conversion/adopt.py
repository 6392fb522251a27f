"""Adopting a LeRobot v3.0 dataset that has no meta/commit.json (written or edited by lerobot's tools).

Its episodes are kept as they are and new bags are appended after them. Which bags it already holds is
read from what survives of our own records, so an append never converts them again (that would bring a
deleted episode back, or hold one twice):
- lerobot-edit-dataset's in-place edits move the original folder to `<name>_old`: its commit record;
- a meta/quality.json of ours (a tool that kept the rest of meta/): each episode's provenance.
A dataset that neither names (recorded by lerobot itself) holds no bag of ours: every planned bag is new.
The adopted record (with the settings hash those name, else "": converted elsewhere) and, when missing,
a quality report with one entry per adopted episode are written into meta/ (lerobot reads neither); then
the append goes on as usual.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import DataprepError
from dataprep.lerobot.commit_record import CommitRecord, CommittedSource
from dataprep.lerobot.info import DatasetInfo
from dataprep.lerobot.layout import STAT_NAMES
from dataprep.lerobot.quality_files import (
    QUALITY_PATH,
    Provenance,
    QualityDocument,
    QualityEntry,
    document_files,
    read_document,
)
from dataprep.storage import write_bytes_atomic

logger = logging.getLogger(__name__)

LEROBOT_BACKUP_SUFFIX = "_old"  # lerobot-edit-dataset, editing in place, moves the original to `<root>_old`


def known_bags(root: Path) -> tuple[dict[str, str], str]:
    """Bags (resolved path -> staging key) whose episodes the dataset at `root` held or holds, and the
    settings hash they were converted with ("" when nothing says)."""
    bags: dict[str, str] = {}
    settings = ""
    backup = root.with_name(root.name + LEROBOT_BACKUP_SUFFIX)
    try:
        record = CommitRecord.load(backup) if backup.is_dir() else None
    except DataprepError as err:
        logger.warning("%s: its backup's record is unreadable, not used: %s", root, err)
        record = None
    for source in record.sources if record else ():
        bags[source.path] = source.staging_key
    settings = record.settings_hash if record else ""
    try:
        quality = read_document(root)
    except DataprepError as err:
        logger.warning("%s: unreadable, not used to find its bags: %s", root / QUALITY_PATH, err)
        quality = None
    if quality is not None:
        settings = settings or quality.totals.settings_hash
        for entry in [*quality.episodes, *quality.excluded]:
            if entry.provenance.bag:
                bags.setdefault(entry.provenance.bag, entry.provenance.staging_key or "")
    return bags, settings


def _check_appendable(root: Path, info: DatasetInfo) -> None:
    """An append reads each committed episode's task and statistics back: the columns must be there."""
    files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
    try:
        names = set(pq.read_schema(files[0]).names) if files else set()
    except (OSError, pa.ArrowException) as err:
        raise DataprepError(f"{files[0]}: unreadable: {err}") from err
    wanted = ["tasks", *(f"stats/{key}/{name}" for key in info.features for name in STAT_NAMES)]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise DataprepError(
            f"{root}: meta/episodes lacks {len(missing)} column(s) an append builds on ({', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}); new bags cannot be appended to it: write them to a new "
            "repo_id and merge the two (python -m flows.edit_dataset merge)"
        )


def _placeholder_quality(root: Path, info: DatasetInfo) -> QualityDocument:
    files = sorted((root / "meta/episodes").glob("chunk-*/file-*.parquet"))
    lengths = [length for path in files for length in pq.read_table(path, columns=["length"])["length"].to_pylist()]
    episodes = [QualityEntry(i, None, n, round(n / info.fps, 3), None, Provenance("", (0.0, 0.0), adopted=str(root)))
                for i, n in enumerate(lengths)]
    return QualityDocument.of(f"{root.parent.name}/{root.name}", episodes)


def adopt_dataset(root: Path) -> CommitRecord:
    """Write the record (and a quality report if missing) that lets bags be appended to `root`."""
    info = DatasetInfo.read(root)
    _check_appendable(root, info)
    bags, settings = known_bags(root)
    sources = tuple(CommittedSource(path, key, 0, 0) for path, key in sorted(bags.items()))
    record = CommitRecord(settings, sources, info.total_episodes, info.total_frames)
    if not (root / QUALITY_PATH).is_file():
        for relative, data in document_files(_placeholder_quality(root, info)).items():  # the head last
            write_bytes_atomic(root / relative, data)
    record.save(root)
    logger.warning("%s has no commit record (written or edited by another tool): adopted its %d episode(s) as "
                   "they are; %d bag(s) known to be in it are not converted again, new bags go after them",
                   root, info.total_episodes, len(bags))
    return record
