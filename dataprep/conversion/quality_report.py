"""The quality files a conversion commits (lerobot/quality_files.py: a head of totals, one part per commit),
built from the converted bags; also as markdown.

lerobot reads only info.json, stats.json, tasks.parquet and episodes/ under meta/, so these files ride along
without changing how the dataset loads. Episodes are numbered in dataset order (`episode_index`); episodes
left out by `quality.on_failing: exclude` are listed apart, with where they came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.staging import BagConversion, EpisodeReport, bag_files, settings_hash
from dataprep.lerobot.quality_files import (
    QUALITY_PATH,
    BagFile,
    Provenance,
    QualityDocument,
    QualityEntry,
    appended_files,
)

__all__ = ["QUALITY_PATH", "quality_entries", "quality_files", "quality_markdown"]


def _provenance(conversion: BagConversion, episode: EpisodeReport, settings: str) -> Provenance:
    bag = Path(conversion.bag)
    files = tuple(BagFile(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in bag_files(bag)) \
        if bag.exists() else ()
    return Provenance(str(bag.resolve()), episode.span_s, files, conversion.key, settings)


def _entry(conversion: BagConversion, episode: EpisodeReport, settings: str, kept: bool) -> QualityEntry:
    return QualityEntry(0 if kept else None, episode.task, episode.frames, round(episode.duration_s, 3),
                        episode.quality, _provenance(conversion, episode, settings))


def quality_entries(config: ConvertConfig, conversions: Sequence[BagConversion]) -> list[QualityEntry]:
    """The new episodes' entries in dataset order (numbered when committed), then the excluded ones."""
    settings = settings_hash(config)
    return [*(_entry(c, e, settings, True) for c in conversions for e in c.episodes),
            *(_entry(c, e, settings, False) for c in conversions for e in c.excluded)]


def quality_files(config: ConvertConfig, conversions: Sequence[BagConversion], root: Path | None
                  ) -> dict[str, bytes]:
    """The quality files of a commit of `conversions` after the dataset committed at `root` (None: a new one):
    a new head and this commit's part; cost independent of the committed episodes."""
    dropped: Counter[str] = Counter()
    for conversion in conversions:
        dropped.update(conversion.dropped)
    return appended_files(root, config.repo_id, quality_entries(config, conversions), dropped,
                          settings_hash(config), config.quality.model_dump())


def quality_markdown(document: QualityDocument) -> str:
    """The report a person reads in the Prefect UI: the dataset's totals, then a row per episode of
    `document` (a run's report holds the episodes that run added) with its reasons."""
    totals = document.totals
    failing = [e.episode_index for e in document.episodes if e.failing]
    lines = [f"# Quality of `{totals.repo_id}`", "",
             (f"- {totals.episodes} episode(s), {totals.frames} frames, mean score {totals.mean_score}, "
              f"lowest {totals.min_score}"),
             (f"- failing: {totals.failing} in all ({failing or 'none'} among these); "
              f"excluded: {totals.excluded_episodes}"), "",
             "| episode | bag | span_s | frames | score | why | failing |", "|---|---|---|---|---|---|---|"]
    for label, entries in (("", document.episodes), ("excluded ", document.excluded)):
        for entry in entries:
            quality = entry.quality
            span = "-".join(f"{s:.2f}" for s in entry.provenance.span_s)
            index = "" if entry.episode_index is None else entry.episode_index
            lines.append(f"| {label}{index} | `{Path(entry.provenance.bag).name}` | {span} | {entry.frames} | "
                         f"{quality.score if quality else ''} | {'; '.join(quality.reasons) if quality else ''} | "
                         f"{'; '.join(quality.failing) if quality else ''} |")
    return "\n".join(lines) + "\n"
