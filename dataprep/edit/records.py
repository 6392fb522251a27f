"""Keeps meta/commit.json, meta/quality.json and meta/edits.json true through an edit.

The commit record still lists every bag whose episodes were ever committed, a bag whose episodes were all
deleted with an empty range: an append converts only bags it does not list, so a deleted or trimmed-away
bag's episodes never come back. quality.json follows the episodes (renumbered, a trimmed one says which of
its frames it kept, a deleted one moves to `excluded` with `removed_by`). meta/edits.json lists the edits
that made this version; a rerun of the last one (after a kill once the new version was in place) finds it
there and does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataprep.edit.plan import Take
from dataprep.edit.source import SourceDataset
from dataprep.lerobot.commit_record import CommitRecord, CommittedSource
from dataprep.lerobot.quality_files import (
    Provenance,
    QualityDocument,
    QualityEntry,
    Trim,
    document_files,
    read_document,
)

EDITS_PATH = "meta/edits.json"


def renumbered_record(source: SourceDataset, takes: Sequence[Take]) -> CommitRecord:
    """The source's record with each bag's episode range counted among the kept episodes (same order)."""
    kept = [t.episode.index for t in takes if t.source is source]
    frames = sum(t.length for t in takes)
    if source.record is None:  # a foreign dataset: its episodes are nobody's bags
        return CommitRecord("", (), len(takes), frames)

    def before(index: int) -> int:
        return sum(1 for k in kept if k < index)

    sources = tuple(CommittedSource(s.path, s.staging_key, before(s.first_episode), before(s.end_episode))
                    for s in source.record.sources)
    return CommitRecord(source.record.settings_hash, sources, len(takes), frames)


def read_json(root: Path, relative: str) -> Any:
    path = Path(root) / relative
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def quality_after(source: SourceDataset, takes: Sequence[Take], operation: str) -> dict[str, bytes]:
    """The source's quality files for the new episodes (head and one part); {} when the source has none."""
    document = read_document(source.root)
    if document is None:
        return {}
    old = {entry.episode_index: entry for entry in document.episodes}
    episodes = []
    for i, take in enumerate(takes):
        entry = old.get(take.episode.index) or QualityEntry(i, None, take.length, 0.0, None, Provenance("", (0.0, 0.0)))
        trim = entry.trim
        if not take.whole:
            earlier = entry.trim or Trim((0, take.episode.length), take.episode.length)
            offset = earlier.frames[0]
            trim = Trim((offset + take.start, offset + take.stop), earlier.of)
        episodes.append(replace(entry, episode_index=i, frames=take.length, trim=trim))
    kept = {t.episode.index for t in takes}
    removed = [replace(entry, episode_index=None, removed_by=operation)
               for index, entry in sorted(old.items(), key=lambda item: item[0] or 0) if index not in kept]
    totals = document.totals
    return document_files(QualityDocument.of(totals.repo_id, [*episodes, *document.excluded, *removed],
                                             totals.dropped, totals.settings_hash, totals.thresholds))


def failing_episodes(root: Path) -> list[int]:
    """The episodes the quality report marks as failing; an error-free empty list when there is no report."""
    document = read_document(root)
    return document.failing_episodes if document else []


def edits_after(source: SourceDataset, operation: str, args: dict[str, Any], takes: Sequence[Take]
                ) -> list[dict[str, Any]]:
    history = read_json(source.root, EDITS_PATH) or []
    result = {"episodes": len(takes), "frames": sum(t.length for t in takes)}
    return [*history, {"op": operation, "args": args, "result": result}]


def already_done(root: Path, operation: str, args: dict[str, Any]) -> bool:
    """The dataset at `root` is what this very edit produced (a rerun after the swap): nothing to do."""
    history = read_json(root, EDITS_PATH) or []
    record = CommitRecord.load(root) if (Path(root) / "meta/commit.json").is_file() else None
    if not history or record is None:
        return False
    last = history[-1]
    return bool(last["op"] == operation and last["args"] == args
                and last["result"] == {"episodes": record.episodes, "frames": record.frames})
