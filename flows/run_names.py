"""Flow run names that say what ran: which configuration (or dataset), from which input, when.

Prefect calls these when a run starts (`flow_run_name=`); without them runs get random names, and a morning
list of `crimson-otter` runs says nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

MAX_NAME = 120


def _when() -> str:
    return f"{flow_run.scheduled_start_time:%Y-%m-%d %H:%M}"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 3] + "..."


def pipeline_run_name() -> str:
    """`default.yaml 2026-12-01 02:00 [rosbag_to_lerobot] input.bags=/data/today` (cut to MAX_NAME)."""
    parameters: dict[str, Any] = flow_run.parameters
    parts = [Path(str(parameters.get("config_path") or "default.yaml")).name, _when()]
    if parameters.get("stages"):
        parts.append(f"[{', '.join(parameters['stages'])}]")
    parts += [str(item).split(".", 1)[-1] for item in parameters.get("overrides") or []]
    return _cut(" ".join(parts))


def conversion_run_name() -> str:
    """`local/kuavo_sample <- kuavo_sample.bag 2026-12-01 02:00` (the first input and how many more)."""
    config = flow_run.parameters.get("config")
    get: Callable[[str], Any] = config.get if isinstance(config, dict) else lambda name: getattr(config, name, None)
    inputs = get("input") or {}
    bags = list(inputs.get("bags", []) if isinstance(inputs, dict) else getattr(inputs, "bags", []))
    source = Path(str(bags[0])).name + (f" +{len(bags) - 1}" if len(bags) > 1 else "") if bags else "?"
    return _cut(f"{get('repo_id') or 'dataset'} <- {source} {_when()}")
