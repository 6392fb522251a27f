"""The run report: one markdown page on the top-level run that answers "what did this run do?" at a glance.

Plain functions of the stages' results (no Prefect call here; tasks/reporting.py publishes it): per stage a
verdict, episodes, frames and duration; for a conversion the bags converted, skipped and failed with their
reasons, frames dropped by reason, the lowest quality scores and failing episodes, the validator's verdict;
for the run its peak memory and where the output is. A run that found nothing new says so, and how to see a
full run. The stages' result types are read by duck typing (`getattr`), so a stage whose result changes
shape still gets its verdict line and its summary text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.conversion.commit import CHANGED_NOTE
from dataprep.errors import DataprepError
from dataprep.viewer import default_out, read_viewer
from tasks.artifacts import markdown_table

LOWEST_SCORES = 3  # episodes listed under "lowest quality scores"
REBUILD_HINT = ("prefect deployment run convert_all/nightly --params "
                "'{\"overrides\": [\"rosbag_to_lerobot.mode=rebuild\"]}'")


@dataclass(frozen=True)
class StageOutcome:
    """What the report needs of one stage: its result (or error), its output folder, how long it took, the
    validator's verdict on its output (None: not validated), the input bags it planned (None: not a
    conversion), and its own summary text for stages the report has no section for."""

    name: str
    result: Any
    output: Path | None
    seconds: float | None
    validation: str | None = None
    planned_bags: Sequence[str] | None = None
    summary: str = ""


def _one_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _is_conversion(result: Any) -> bool:
    return hasattr(result, "dataset") and hasattr(result, "bags")


def stage_verdict(outcome: StageOutcome) -> str:
    result = outcome.result
    if isinstance(result, BaseException):
        return "**FAILED**"
    failed = len(getattr(result, "skipped", ()) or ()) + len(getattr(result, "failures", ()) or ())
    return f"ok, {failed} failed" if failed else "ok"


def _counts(result: Any) -> tuple[str, str]:
    """Episodes and frames this stage's output holds, where the result says."""
    if _is_conversion(result):
        return str(result.dataset.episodes), str(result.dataset.frames)
    counts = getattr(result, "counts", None)
    if counts is not None:
        return str(getattr(counts, "episodes", "")), str(getattr(counts, "samples", ""))
    totals = getattr(result, "totals", None)
    if callable(totals):
        values = totals()
        return str(values.get("sequences", "")), str(values.get("frames", ""))
    return "", ""


def stage_table(outcomes: Sequence[StageOutcome]) -> str:
    rows = []
    for outcome in outcomes:
        episodes, frames = ("", "") if isinstance(outcome.result, BaseException) else _counts(outcome.result)
        rows.append({"stage": outcome.name, "verdict": stage_verdict(outcome), "episodes": episodes,
                     "frames": frames, "duration": _duration(outcome.seconds),
                     "output": f"`{outcome.output}`" if outcome.output else ""})
    return markdown_table(rows)


def bags_section(outcome: StageOutcome) -> list[str]:
    """Converted, skipped (in the dataset already) and failed bags, each with what happened to it."""
    report = outcome.result
    converted = {Path(bag.bag).name: bag for bag in report.bags}
    failed = {Path(failure.unit).name: failure for failure in report.skipped}
    planned = [Path(bag).name for bag in outcome.planned_bags or ()]
    changed = [Path(bag).name for bag in report.changed]
    skipped = [name for name in planned if name not in converted and name not in failed and name not in changed]
    lines = [f"**Bags**: {len(converted)} converted, {len(skipped)} skipped, {len(failed)} failed"
             + (f", {len(changed)} changed since committed" if changed else ""), ""]
    rows: list[dict[str, Any]] = []
    for name, bag in converted.items():
        dropped = sum(bag.dropped.values())
        how = "converted (staged by an earlier run, reused)" if bag.reused else "converted"
        rows.append({"bag": name, "outcome": how, "frames": bag.frames,
                     "why": f"{dropped} frame(s) dropped" if dropped else ""})
    rows += [{"bag": name, "outcome": "skipped", "frames": "",
              "why": "in the dataset already (converted by an earlier run; mode: append)"} for name in skipped]
    rows += [{"bag": name, "outcome": "**failed**", "frames": "", "why": _one_line(failure.cause)}
             for name, failure in failed.items()]
    rows += [{"bag": name, "outcome": "**changed**", "frames": "", "why": CHANGED_NOTE}
             for name in changed]  # committed, then its file changed: the dataset holds the old content
    if rows:
        lines.append(markdown_table(rows))
    return lines


def dropped_section(report: Any) -> list[str]:
    dropped: Counter[str] = Counter()
    for bag in report.bags:
        dropped.update(bag.dropped)
    if not dropped:
        return ["**Frames dropped**: none", ""]
    rows = [{"reason": reason, "frames": count} for reason, count in dropped.most_common()]
    return [f"**Frames dropped**: {sum(dropped.values())}", "", markdown_table(rows)]


def quality_section(report: Any) -> list[str]:
    episodes = [(bag, episode, excluded) for bag in report.bags
                for excluded, group in ((False, bag.episodes), (True, bag.excluded))
                for episode in group if episode.quality is not None]
    if not episodes:
        return ["**Quality**: no new episode scored in this run", ""]
    lowest = sorted(episodes, key=lambda item: item[1].quality.score)[:LOWEST_SCORES]
    failing = [item for item in episodes if item[1].quality.failing]
    lines = [(f"**Quality**: {len(episodes)} new episode(s) scored, {len(failing)} failing a threshold; lowest "
             "scores:"), ""]
    lines.append(markdown_table([
        {"episode": episode.folder, "bag": Path(bag.bag).name, "score": episode.quality.score,
         "what lowered it": _one_line("; ".join(episode.quality.reasons)) or "",
         "failing": ("EXCLUDED: " if excluded else "") + _one_line("; ".join(episode.quality.failing))}
        for bag, episode, excluded in lowest]))
    return lines


def conversion_section(outcome: StageOutcome) -> list[str]:
    report = outcome.result
    lines = [f"## {outcome.name}", ""]
    if not report.bags and not report.skipped:
        lines += [("**Nothing was new**: every bag of the input is in the dataset already (mode: append), so this "
                  "run converted nothing and the dataset is as the last run left it. To see a full run, "
                  f"convert every bag again with `mode=rebuild`: `{REBUILD_HINT}`"), ""]
    lines += bags_section(outcome)
    lines += dropped_section(report)
    lines += quality_section(report)
    lines += [f"**Validation**: {outcome.validation or 'not run'}", ""]
    return lines


def failed_section(outcome: StageOutcome) -> list[str]:
    return [f"## {outcome.name}: FAILED", "", "```", str(outcome.result).strip(), "```", ""]


def summary_section(outcome: StageOutcome) -> list[str]:
    return [f"## {outcome.name}", "", "```", outcome.summary.strip(), "```", ""] if outcome.summary else []


def headline(outcomes: Sequence[StageOutcome]) -> str:
    failed = [o.name for o in outcomes if isinstance(o.result, BaseException)]
    bags_failed = sum(len(getattr(o.result, "skipped", ()) or ()) for o in outcomes if _is_conversion(o.result))
    if not outcomes:
        return "No stage ran: the configuration has no section for the stages asked for."
    if failed:
        return f"**{len(failed)} of {len(outcomes)} stage(s) failed**: {', '.join(failed)}."
    if bags_failed:
        return f"Every stage finished, but **{bags_failed} bag(s) failed** and were left out (see below)."
    return f"All {len(outcomes)} stage(s) finished without a failure."


def run_report_markdown(title: str, outcomes: Sequence[StageOutcome], peak_rss_mb: float | None,
                        seconds: float | None) -> str:
    """The report's markdown: a headline, the stage table, a section per stage, then memory and outputs."""
    lines = [f"# Run report: {title}", "", headline(outcomes), "", stage_table(outcomes)]
    for outcome in outcomes:
        if isinstance(outcome.result, BaseException):
            lines += failed_section(outcome)
        elif _is_conversion(outcome.result):
            lines += conversion_section(outcome)
        else:
            lines += summary_section(outcome)
    memory = f"peak RSS {peak_rss_mb:.0f} MB (this run's process)" if peak_rss_mb is not None else "not sampled"
    lines += [f"**Run**: {_duration(seconds) or 'unknown duration'}, {memory}", ""]
    outputs = [f"- {o.name}: `{o.output}`{_viewer_note(o.output)}" for o in outcomes
               if o.output and not isinstance(o.result, BaseException)]
    lines += ["**Output**:", "", *outputs] if outputs else ["**Output**: none written"]
    return "\n".join(lines) + "\n"


def _viewer_note(output: Path) -> str:
    """Where the dataset's viewer is, when one was written beside it (`viewer.enabled`; docs/viewer.md)."""
    viewer = read_viewer(default_out(output))
    if viewer is None or viewer.root.resolve() != output.resolve():
        return ""
    return f" (viewer: `{viewer.index}`)"


def report_description(outcomes: Sequence[StageOutcome]) -> str:
    """The artifact card's line: the headline in plain words."""
    return headline(outcomes).replace("**", "")


def outcomes_of(results: Mapping[str, Any], outputs: Mapping[str, Path | None],
                seconds: Mapping[str, float], validations: Mapping[str, str | None],
                planned: Mapping[str, Sequence[str] | None], describe: Mapping[str, Callable[[Any], str]]
                ) -> list[StageOutcome]:
    """One StageOutcome per stage that ran, from what the pipeline collected."""
    outcomes = []
    for name, result in results.items():
        summary = ""
        if not isinstance(result, DataprepError) and not _is_conversion(result):
            try:
                summary = describe[name](result)
            except Exception as err:  # noqa: BLE001 - a summary that cannot be written must not lose the report
                summary = f"(no summary: {err})"
        outcomes.append(StageOutcome(name, result, outputs.get(name), seconds.get(name), validations.get(name),
                                     planned.get(name), summary))
    return outcomes
