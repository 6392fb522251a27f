"""What a person sees in the Prefect UI: live memory and progress per bag, and the pipeline's outcome.

Prefect table artifacts cannot be updated in place, so the memory table of a bag is published as a new
version of the same key every `publish_s` seconds while the bag converts, and once at its end; the progress
artifact is updated in place. Keys hold the dataset's output folder, so runs into different output roots never
share a history, and reruns into the same one line up.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from dataprep.config import PipelineConfig
from dataprep.conversion import ChunkReport
from dataprep.errors import DataprepError
from dataprep.lerobot.preview import first_episode_preview
from dataprep.memory import take_snapshot
from dataprep.rosbag.discover import find_bags
from tasks.artifacts import artifact_key
from tasks.charts import data_uri, line_chart, svg_image
from tasks.dataset_slot import dataset_slot
from tasks.run_report import outcomes_of, report_description, run_report_markdown
from tasks.viewer import link_existing_viewer

logger = logging.getLogger(__name__)

StageOutput = tuple[Callable[[Any], str], Callable[[Any], Path] | None]


def memory_chart(label: str, rows: list[dict[str, Any]]) -> str:
    """Markdown: RSS and peak RSS over elapsed time as an inline SVG, and the peak in words."""
    if not rows:
        return f"# Memory over time: {label}\n\n(no sample yet)\n"
    chart = line_chart(f"memory of the process, MB: {label}", [r["elapsed_s"] for r in rows],
                       {"rss_mb": [r["rss_mb"] for r in rows], "peak_rss_mb": [r["peak_rss_mb"] for r in rows]},
                       "s")
    peak = max(r["peak_rss_mb"] for r in rows)
    return (f"# Memory over time: {label}\n\n{svg_image(chart, 'memory over time')}\n\n"
            f"peak RSS {peak:.0f} MB, lowest available {min(r['available_mb'] for r in rows):.0f} MB, "
            f"{rows[-1]['elapsed_s']:.0f} s, {len(rows)} samples\n")


def preview_markdown(root: Path) -> str:
    """A few frames of each camera and the vector features of episode 0, as the dataset holds them."""
    preview = first_episode_preview(root)
    lines = [f"# First episode of `{root.name}`", "",
             f"{preview.frames} frames looked at, {preview.fps} fps", ""]
    for key, jpeg in preview.strips.items():
        lines += [f"## {key}", "", f"![{key}]({data_uri('image/jpeg', jpeg)})", "",
                  "frames " + ", ".join(str(i) for i in preview.picks), ""]
    seconds = [i / preview.fps for i in range(preview.frames)]
    for key, values in preview.vectors.items():
        series = {f"{key}[{d}]": values[:, d].tolist() for d in range(values.shape[1])}
        lines += [f"## {key}", "", svg_image(line_chart(key, seconds, series, "s"), key), ""]
    return "\n".join(lines)


def time_left_s(elapsed_s: float, progress: float) -> float | None:
    """Linear estimate from the share done so far; None before there is anything to go on."""
    if progress <= 0.0 or elapsed_s <= 0.0:
        return None
    return elapsed_s * (1.0 - progress) / progress


class MemoryMonitor:
    """Samples memory every `sample_s` while a bag converts (or a whole run goes) and keeps its artifacts
    current: the memory table and chart every `publish_s`, the progress artifact (with `progress`) every sample.

    The converter reports frames through `on_frame` (cheap: two assignments) and chunks through `on_chunk`;
    a daemon thread turns them into rows with the elapsed time, so short bags get rows too, not only one at
    their end.
    """

    def __init__(self, key: str, label: str, progress: bool = True, sample_s: float = 1.0,
                 publish_s: float = 10.0) -> None:
        self.key, self.label, self.sample_s, self.publish_s = key, label, sample_s, publish_s
        self.rows: list[dict[str, Any]] = []
        self.frames, self.progress = 0, 0.0
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._published = self._start
        self._progress_id = cast(UUID, create_progress_artifact(  # a sync call returns the UUID
            0.0, key=artifact_key("progress", key), description=f"{label}: starting.")) if progress else None
        # The thread runs in a copy of this context: Prefect's run context and settings live in contextvars,
        # and without them its artifacts would belong to no run (or go to another server).
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._sample_loop,),
                                        name=f"monitor-{key}", daemon=True)

    def __enter__(self) -> MemoryMonitor:
        self._sample("start")
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample("end" if error is None else "failed")
        if error is None:
            self.progress = 1.0
        self._update_progress()
        self.publish()

    def on_frame(self, frames: int, progress: float) -> None:
        self.frames, self.progress = frames, progress

    def on_chunk(self, report: ChunkReport) -> None:
        self.frames, self.progress = report.frames, report.progress
        self._sample(f"chunk {report.chunk}")

    def _sample(self, event: str) -> None:
        row = {"elapsed_s": round(time.monotonic() - self._start, 1), "event": event, "frames": self.frames,
               "progress_pct": round(100 * self.progress, 1), **take_snapshot().as_row()}
        with self._lock:
            self.rows.append(row)

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.sample_s):
            self._sample("sample")
            try:
                self._update_progress()
                if time.monotonic() - self._published >= self.publish_s:
                    self.publish()
            except Exception as err:  # noqa: BLE001 - a missed UI update must not stop the sampling or the bag
                logger.warning("%s: artifact update failed, retrying at the next sample: %s", self.label, err)

    def _update_progress(self) -> None:
        if self._progress_id is None:
            return
        elapsed = time.monotonic() - self._start
        left = time_left_s(elapsed, self.progress)
        eta = "" if left is None or self.progress >= 1.0 else f", about {left:.0f} s left"
        update_progress_artifact(self._progress_id, round(100 * self.progress, 1),
                                 description=f"{self.label}: {self.frames} frames, {elapsed:.0f} s{eta}")

    def publish(self) -> None:
        """A new version of the memory table and chart (the UI shows the latest)."""
        self._published = time.monotonic()
        with self._lock:
            rows = list(self.rows)
        create_table_artifact(rows, key=artifact_key("memory", self.key),
                              description=f"Memory of the process during {self.label}, a row per second and per "
                                          "chunk.")
        create_markdown_artifact(memory_chart(self.label, rows), key=artifact_key("memory-chart", self.key),
                                 description=f"A chart of the process's memory (RSS and its peak) during "
                                             f"{self.label}.")


class LoggedStage:
    """A stage's run with INFO lines on the calling flow's run page before and after, holding the slot of its
    output folder (tasks/dataset_slot.py) when the stage says where it writes; `seconds` is how long it took
    (for the run report)."""

    def __init__(self, name: str, run: Callable[[Any], Any], output: Callable[[Any], Path] | None = None) -> None:
        self.name, self.run, self.output = name, run, output
        self.seconds: float | None = None

    def __call__(self, section: Any) -> Any:
        logger = get_run_logger()
        logger.info("stage %s: starting", self.name)
        start = time.monotonic()
        try:
            with dataset_slot(self.output(section)) if self.output else nullcontext():
                result = self.run(section)
        finally:
            self.seconds = time.monotonic() - start
        logger.info("stage %s: finished in %.0f s", self.name, self.seconds)
        return result


def logged_stage(name: str, run: Callable[[Any], Any], output: Callable[[Any], Path] | None = None) -> LoggedStage:
    return LoggedStage(name, run, output)


def record_pipeline_outcome(config: PipelineConfig, config_path: str, results: Mapping[str, Any],
                            stages: Mapping[str, StageOutput]) -> None:
    """On the pipeline's own run page: per stage a summary (or its error) and a link to its output."""
    logger = get_run_logger()
    for name, result in results.items():
        describe, output = stages[name]
        root = output(getattr(config, name)).resolve() if output else None
        key = artifact_key("summary", name, root or config_path)
        if isinstance(result, DataprepError):
            text = f"# {name}: FAILED\n\n```\n{result}\n```\n"
            logger.error("stage %s: failed:\n%s", name, result)
        else:
            text = f"# {name}\n\n```\n{describe(result)}\n```\n"
            logger.info("stage %s: output at %s\n%s", name, root, describe(result))
        create_markdown_artifact(text, key=key, description=f"What {name} wrote, as the command line prints it "
                                                             f"(configuration {config_path}).")
        if root is None or isinstance(result, DataprepError):
            continue
        create_link_artifact(root.as_uri(), link_text=str(root), key=artifact_key("output", name, root),
                             description=f"The folder {name} wrote: {root}.")
        link_existing_viewer(root, getattr(config, name))  # the dataset viewer, when the run wrote one
        if (root / "meta" / "info.json").is_file():  # a LeRobot dataset: show what its first episode holds
            try:
                preview = preview_markdown(root)
            except (DataprepError, OSError, ValueError) as err:  # a picture must not fail a finished run
                logger.warning("stage %s: no preview of %s: %s", name, root, err)
                continue
            create_markdown_artifact(preview, key=artifact_key("preview", name, root),
                                     description=f"Camera frames and state/action plots of the first "
                                                 f"episode of {root}.")


def latest_validation(root: Path, since: datetime) -> str | None:
    """The validator's verdict on `root` as its artifact's description says it, if it ran since `since`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key("validation", root.resolve())])),
            sort=ArtifactSort.CREATED_DESC, limit=1)
    if not found or found[0].created is None or found[0].created < since:
        return None
    return found[0].description


def _planned_bags(section: Any) -> list[str] | None:
    """The input bags of a conversion section, as the plan finds them (None for other stages)."""
    inputs = getattr(getattr(section, "input", None), "bags", None)
    if inputs is None:
        return None
    try:
        return [str(bag) for bag in find_bags([str(pattern) for pattern in inputs])]
    except DataprepError:
        return None  # the stage itself reported it


def record_run_report(config: PipelineConfig, config_path: str, results: Mapping[str, Any],
                      stages: Mapping[str, StageOutput], runners: Mapping[str, Any],
                      monitor: MemoryMonitor, started: datetime) -> None:
    """The run report (tasks/run_report.py) on the pipeline's own run page: one artifact a person reads first."""
    outputs, validations, planned = {}, {}, {}
    for name in results:
        section = getattr(config, name)
        output = stages[name][1]
        root = output(section).resolve() if output else None
        outputs[name], planned[name] = root, _planned_bags(section)
        validations[name] = latest_validation(root, started) if root else None
    seconds = {name: runner.seconds for name, runner in runners.items() if getattr(runner, "seconds", None)}
    outcomes = outcomes_of(results, outputs, seconds, validations, planned,
                           {name: describe for name, (describe, _) in stages.items()})
    rows = monitor.rows
    peak = max((row["peak_rss_mb"] for row in rows), default=None)
    elapsed = rows[-1]["elapsed_s"] if rows else None
    create_markdown_artifact(run_report_markdown(Path(config_path).name, outcomes, peak, elapsed),
                             key=artifact_key("report", Path(config_path).stem),
                             description=report_description(outcomes))
