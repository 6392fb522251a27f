"""Prefect tasks around `dataprep.memory`: the pipeline's memory plan and the chunk-size sweep, as artifacts."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from dataprep.config import ConvertConfig, PipelineConfig
from dataprep.conversion.memory_sweep import SweepRow, sweep_chunk_sizes
from dataprep.memory import StagePlan, SystemMemory
from dataprep.pipeline_plan import plan_pipeline
from tasks.artifacts import artifact_key, markdown_table, record_markdown


@task(name="memory-plan", cache_policy=NO_CACHE)
def memory_plan_task(config: PipelineConfig, config_path: Path, system: SystemMemory,
                     loader_workers: int) -> list[StagePlan]:
    rows = plan_pipeline(config, system, loader_workers)
    record_markdown(f"# Memory plan of `{config_path}`\n\n" + markdown_table([r.as_row() for r in rows]),
                    key=artifact_key("memory-plan", config_path.resolve()),
                    description="Need, available memory, strategy, chunk size and workers per stage")
    return rows


@task(name="memory-sweep", cache_policy=NO_CACHE)
def memory_sweep_task(config: ConvertConfig, bag: Path, chunk_sizes: list[int], workdir: Path) -> list[SweepRow]:
    rows = sweep_chunk_sizes(config, bag, chunk_sizes, workdir)
    record_markdown(f"# Chunk-size sweep of `{bag}`\n\nEach conversion in a fresh process; peak RSS is its VmHWM "
                    "(high-water mark).\n\n" + markdown_table([r.as_row() for r in rows]),
                    key=artifact_key("memory-sweep", bag.resolve()),
                    description="Estimated vs measured peak RSS per chunk size")
    return rows
