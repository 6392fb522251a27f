"""Prefect tasks around `dataprep.conversion`: each wraps one library call and adds artifacts.

Finished bags are skipped by the library's own staging markers, which work with and without Prefect, so
the tasks use no Prefect cache. A failure is retried once only when retrying can help (a `DataprepError`
marked `retryable`: a transient I/O fault); a bad or damaged bag, a full disk, a bug fail at once.

Bag tasks run on the task runner `bag_task_runner` picks from the run's `BagWorkers`: a thread for one worker
(no pool), Prefect's process pool for several, Dask when `task_runner.dask` says so. They take the
configuration, a bag path and their encoder threads, and return the small `BagConversion`, never arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner

from dataprep.config import ConvertConfig
from dataprep.conversion import (
    BagConversion,
    ConversionPlan,
    ConversionReport,
    conclude_conversion,
    convert_bag,
    plan_conversion,
)
from dataprep.conversion.quality_report import quality_markdown
from dataprep.conversion.stage import bag_claim_path
from dataprep.conversion.staging import bag_key
from dataprep.conversion.workers import BagWorkers
from dataprep.errors import DataprepError
from dataprep.lerobot.video import set_encoder_threads
from dataprep.stages import UnitFailure
from dataprep.stages.claim import unit_claim
from dataprep.stages.lifeline import bind_to_run
from tasks.artifacts import artifact_key, markdown_table, record_markdown, record_memory
from tasks.reporting import MemoryMonitor


def _retry_if_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, DataprepError) and error.retryable


@task(name="plan-conversion", cache_policy=NO_CACHE)
def plan_conversion_task(config: ConvertConfig) -> ConversionPlan:
    plan = plan_conversion(config)
    record_memory("plan", config.dataset_root.resolve())
    record_markdown(
        f"# Plan for `{config.repo_id}`\n\n{len(plan.bags)} bag(s) into `{plan.root}`\n\n"
        + "".join(f"- `{bag}`\n" for bag in plan.bags) + f"\nMemory plan: {plan.memory.reasoning}\n",
        key=artifact_key("plan", config.dataset_root.resolve()),
        description="Bags to convert",
    )
    return plan


def episode_markdown(conversion: BagConversion, fps: int) -> str:
    """The per-episode summary: frames, duration, drops and their reasons, largest offsets."""
    lines = [f"# `{Path(conversion.bag).name}`", "", f"- bag: `{conversion.bag}`",
             f"- kept span: {conversion.span_s[0]:.3f} s to {conversion.span_s[1]:.3f} s after the bag's start",
             f"- episodes: {len(conversion.episodes)} at {fps} fps",
             *(f"- note: {note}" for note in conversion.notes), ""]
    lines.append(markdown_table([
        {"episode": e.folder, "frames": e.frames, "duration_s": round(e.duration_s, 3),
         "score": e.quality.score if e.quality else "", "failing": "; ".join(e.quality.failing) if e.quality else ""}
        for e in (*conversion.episodes, *conversion.excluded)]))
    lines += ["## Frames dropped (could not be filled)", "",
              markdown_table([{"reason": r, "frames": n} for r, n in conversion.dropped.items()])]
    lines += ["## Frames trimmed (outside the span or sample_drop)", "",
              markdown_table([{"reason": r, "frames": n} for r, n in conversion.trimmed.items()])]
    if conversion.filled_by_default:
        lines += ["## Filled with the configured default", "",
                  markdown_table([{"part": k, "frames": n} for k, n in conversion.filled_by_default.items()])]
    lines += ["## Largest alignment offset", "",
              markdown_table([{"feature": k, "max_offset_ms": round(v, 3)}
                              for k, v in conversion.max_offset_ms.items()])]
    return "\n".join(lines)


@task(name="convert-bag", task_run_name="convert-{bag.name}", cache_policy=NO_CACHE, retries=1,
      retry_condition_fn=_retry_if_transient)
def convert_bag_task(config: ConvertConfig, bag: Path, encoder_threads: int = 0) -> BagConversion:
    """Convert one bag; memory rows and progress while it converts (MemoryMonitor), a summary at the end.

    `encoder_threads` bounds this worker's encoders (0: the codec decides), see `BagWorkers`. The memory rows
    are the worker process's own, wherever the task runs.

    Artifacts are keyed by the dataset's folder and the bag's staging key (its name and a hash of its path,
    size, mtime and the settings), so two bags of the same name never share one, and reruns of a bag into the
    same dataset add versions to the same.
    """
    bind_to_run()  # a process-pool or Dask worker dies with the run (a no-op in the run's own process)
    set_encoder_threads(encoder_threads)
    key = artifact_key(config.dataset_root.resolve(), bag_key(bag, config))
    with unit_claim(bag_claim_path(config, bag), str(bag)), MemoryMonitor(key, bag.name) as monitor:
        conversion = convert_bag(config, bag, monitor.on_chunk, monitor.on_frame)
        monitor.on_frame(conversion.frames, 1.0)  # a bag staged by an earlier run reports nothing while "read"
    record_markdown(episode_markdown(conversion, config.fps), key=artifact_key("episode", key),
                    description=f"Episode summary for {bag}")
    return conversion


@task(name="finalize-dataset", cache_policy=NO_CACHE)
def finalize_dataset_task(config: ConvertConfig, conversions: list[BagConversion],
                          failures: list[UnitFailure], changed: tuple[Path, ...] = ()) -> ConversionReport:
    report = conclude_conversion(config, conversions, failures, changed)
    record_memory("finalize", config.dataset_root.resolve())
    record_markdown(quality_markdown(report.quality), key=artifact_key("quality", config.dataset_root.resolve()),
                    description=f"Quality and provenance of every episode of {config.repo_id} (meta/quality.json)")
    return report


def bag_task_runner(config: ConvertConfig, workers: BagWorkers) -> TaskRunner[Any]:
    """The task runner for the run's bag tasks; pools are sized by `workers` (already capped by the bags)."""
    dask = config.task_runner.dask if config.task_runner else None
    if dask is not None:
        try:
            from prefect_dask.task_runners import DaskTaskRunner
        except ImportError as err:
            raise DataprepError("task_runner.dask needs prefect-dask: pip install 'dataprep[dask]'") from err
        if dask.address is not None:
            return DaskTaskRunner(address=dask.address)
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
            "n_workers": workers.workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None})
    if workers.workers <= 1:
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1)
    from prefect.task_runners import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=workers.workers)
