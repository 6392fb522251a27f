"""meta/quality.json: each episode's quality and provenance, and the dataset's totals; also as markdown.

lerobot reads only info.json, stats.json, tasks.parquet and episodes/ under meta/, so this file rides along
without changing how the dataset loads. Episodes are listed in dataset order (`episode_index`); episodes
left out by `quality.on_failing: exclude` are listed apart, with where they came from.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataprep.config import ConvertConfig
from dataprep.conversion.staging import BagConversion, EpisodeReport, bag_files, settings_hash
from dataprep.errors import DataprepError

QUALITY_PATH = "meta/quality.json"


def _provenance(conversion: BagConversion, episode: EpisodeReport, settings: str) -> dict[str, Any]:
    bag = Path(conversion.bag)
    files = [{"file": p.name, "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
             for p in bag_files(bag)] if bag.exists() else []
    return {"bag": str(bag.resolve()), "bag_files": files, "staging_key": conversion.key,
            "span_s": list(episode.span_s), "settings_hash": settings}


def _entry(conversion: BagConversion, episode: EpisodeReport, settings: str) -> dict[str, Any]:
    return {"task": episode.task, "frames": episode.frames, "duration_s": round(episode.duration_s, 3),
            "quality": episode.quality.to_dict() if episode.quality else None,
            "provenance": _provenance(conversion, episode, settings)}


def quality_document(config: ConvertConfig, conversions: Sequence[BagConversion],
                     previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report: dataset totals, then one entry per episode in dataset order, then the excluded.

    `previous` is the committed dataset's report when appending: its records are kept as they are and the
    new episodes' follow, numbered after them; the totals cover both.
    """
    settings = settings_hash(config)
    kept = list(previous["episodes"]) if previous else []
    new = [_entry(c, e, settings) for c in conversions for e in c.episodes]
    episodes = kept + [{"episode_index": len(kept) + i, **entry} for i, entry in enumerate(new)]
    excluded = [*(previous["excluded"] if previous else ()), *(_entry(c, e, settings)
                                                               for c in conversions for e in c.excluded)]
    dropped: Counter[str] = Counter(previous["dataset"]["dropped"] if previous else {})
    for conversion in conversions:
        dropped.update(conversion.dropped)
    scores = [e["quality"]["score"] for e in episodes if e["quality"]]
    topics: dict[str, dict[str, Any]] = {}
    for entry in episodes:
        for topic, q in (entry["quality"] or {}).get("topics", {}).items():
            worst = topics.setdefault(topic, {"messages": 0, "min_rate_hz": q["rate_hz"], "max_gap_s": 0.0})
            worst["messages"] += q["messages"]
            worst["min_rate_hz"] = min(worst["min_rate_hz"], q["rate_hz"])
            worst["max_gap_s"] = max(worst["max_gap_s"], q["max_gap_s"])
    return {
        "dataset": {
            "repo_id": config.repo_id, "episodes": len(episodes), "frames": sum(e["frames"] for e in episodes),
            "mean_score": round(sum(scores) / len(scores), 3) if scores else None,
            "min_score": min(scores, default=None),
            "failing_episodes": [e["episode_index"] for e in episodes if e["quality"] and e["quality"]["failing"]],
            "excluded_episodes": len(excluded), "dropped": dict(dropped), "topics": topics,
            "settings_hash": settings,
            "thresholds": config.quality.model_dump(),
        },
        "episodes": episodes,
        "excluded": excluded,
    }


def quality_markdown(document: dict[str, Any]) -> str:
    """The report a person reads in the Prefect UI: totals, then a row per episode with its reasons."""
    totals = document["dataset"]
    lines = [f"# Quality of `{totals['repo_id']}`", "",
             (f"- {totals['episodes']} episode(s), {totals['frames']} frames, mean score {totals['mean_score']}, "
             f"lowest {totals['min_score']}"),
             f"- failing: {totals['failing_episodes'] or 'none'}; excluded: {totals['excluded_episodes']}", "",
             "| episode | bag | span_s | frames | score | why | failing |", "|---|---|---|---|---|---|---|"]
    for label, entries in (("", document["episodes"]), ("excluded ", document["excluded"])):
        for entry in entries:
            quality = entry["quality"] or {"score": "", "reasons": [], "failing": []}
            span = "-".join(f"{s:.2f}" for s in entry["provenance"]["span_s"])
            lines.append(f"| {label}{entry.get('episode_index', '')} | `{Path(entry['provenance']['bag']).name}` | "
                         f"{span} | {entry['frames']} | {quality['score']} | {'; '.join(quality['reasons'])} | "
                         f"{'; '.join(quality['failing'])} |")
    return "\n".join(lines) + "\n"


def read_quality_report(root: Path) -> dict[str, Any] | None:
    """The committed dataset's report, to be extended by an append; None when it has none."""
    path = root / QUALITY_PATH
    if not path.is_file():
        return None
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataprepError(f"{path} is unreadable ({err}); rebuild the dataset (mode: rebuild)") from err
    return document
