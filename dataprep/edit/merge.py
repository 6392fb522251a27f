"""`merge SRC... --into DEST`: one new dataset holding every episode of every source, in the order given.

Sources must have equal features (info.json's, camera `info` included, as lerobot's aggregate_datasets
requires) and fps; ours and lerobot-written datasets alike. Files are taken over per source: a source's
first data file keeps its bytes (hard link) when its numbers do not change, video files are linked
whole (they hold no numbers), later sources' data files are rewritten with shifted episode, frame and task
numbers. Tasks are the union in order of first appearance. The commit record lists every source's bags
(shifted); a bag with episodes in two sources is refused, as they would be there twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dataprep.edit.apply import edit_into
from dataprep.edit.build import EditSummary, NewVersion
from dataprep.edit.plan import Take, whole_episodes
from dataprep.edit.records import EDITS_PATH
from dataprep.edit.source import EditError, SourceDataset, read_source
from dataprep.lerobot.commit_record import CommitRecord, CommittedSource
from dataprep.lerobot.quality_files import (
    Provenance,
    QualityDocument,
    QualityEntry,
    QualityTotals,
    document_files,
    read_document,
)


def _check_compatible(sources: Sequence[SourceDataset]) -> None:
    first = sources[0]
    features = first.info.features
    for other in sources[1:]:
        if other.info.fps != first.info.fps:
            raise EditError(f"{other.root}: fps {other.info.fps} differs from {first.root}'s {first.info.fps}")
        theirs = other.info.features
        if theirs != features:
            differing = sorted(k for k in set(features) | set(theirs) if features.get(k) != theirs.get(k))
            raise EditError(f"{other.root}: features {differing} differ from {first.root}'s (info.json); only "
                            "datasets with equal features merge")


def _holds_episodes(source: CommittedSource) -> bool:
    return source.end_episode > source.first_episode


def _record(sources: Sequence[SourceDataset], takes: Sequence[Take]) -> CommitRecord:
    """Every source's bags, ranges shifted; a bag listed with no episodes (deleted, or in the other part of a
    split) is listed once, a bag with episodes in two sources is refused."""
    merged: dict[str, CommittedSource] = {}
    where: dict[str, Path] = {}
    offset = 0
    hashes = set()
    for source in sources:
        hashes.add(source.record.settings_hash if source.record else "")
        for entry in source.record.sources if source.record else ():
            shifted = entry.shifted(offset)
            known = merged.get(entry.path)
            if known is not None and _holds_episodes(known) and _holds_episodes(entry):
                raise EditError(f"bag {entry.path} has episodes in both {where[entry.path]} and {source.root}; "
                                "merging would hold them twice")
            if known is None or not _holds_episodes(known):
                merged[entry.path], where[entry.path] = shifted, source.root
        offset += len(source.episodes)
    settings = hashes.pop() if len(hashes) == 1 else ""  # "": episodes converted with several settings
    ordered = tuple(sorted(merged.values(), key=lambda s: (s.first_episode, s.end_episode)))
    return CommitRecord(settings, ordered, len(takes), sum(t.length for t in takes))


def _quality(sources: Sequence[SourceDataset]) -> dict[str, bytes]:
    """The sources' reports one after another; an episode of a source without one has no quality entry."""
    episodes: list[QualityEntry] = []
    excluded: list[QualityEntry] = []
    first: QualityTotals | None = None  # the first report's repo_id, settings and thresholds
    dropped: Counter[str] = Counter()
    for source in sources:
        document = read_document(source.root)
        if document is not None:
            first = first or document.totals
            dropped.update(document.totals.dropped)
        entries = {e.episode_index: e for e in document.episodes} if document else {}
        for ep in source.episodes:
            entry = entries.get(ep.index) or QualityEntry(None, None, ep.length, 0.0, None, Provenance("", (0.0, 0.0)))
            episodes.append(replace(entry, episode_index=len(episodes), merged_from=str(source.root)))
        excluded += document.excluded if document else ()
    totals = first or QualityTotals("")
    return document_files(QualityDocument.of(totals.repo_id, [*episodes, *excluded], dropped, totals.settings_hash,
                                             totals.thresholds))


def merge_datasets(roots: Sequence[Path], into: Path, again: bool = False) -> EditSummary:
    """Write every episode of `roots` (in order) as one new dataset at `into`."""
    if len(roots) < 2:
        raise EditError("merge needs at least two source datasets")
    sources = [read_source(root) for root in roots]
    _check_compatible(sources)
    takes = [take for source in sources for take in whole_episodes(source, range(len(source.episodes)))]
    tasks = list(dict.fromkeys(task for source in sources for task in source.tasks))
    task_maps = {id(s): {i: tasks.index(task) for i, task in enumerate(s.tasks)} for s in sources}
    args = {"sources": [str(Path(root).absolute()) for root in roots]}
    result = {"episodes": len(takes), "frames": sum(t.length for t in takes)}
    history = [{"op": "merge", "args": args, "result": result}]
    version = NewVersion(tuple(tasks), task_maps, _record(sources, takes),
                         {EDITS_PATH: history, **_quality(sources)})
    return edit_into(into, "merge", args, takes, version, again)
