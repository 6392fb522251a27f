"""deployments/prefect.yaml read with Prefect's own types, for `deployments/serve.py` and the offline test.

One file holds the schedules, parameters and limits of every deployment; serving them in one process
(`python deployments/serve.py`) builds them from the same file, so the two ways cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.client.schemas.schedules import SCHEDULE_TYPES, CronSchedule, IntervalSchedule, RRuleSchedule

from dataprep.errors import DataprepError

PREFECT_YAML = Path(__file__).resolve().parents[1] / "deployments" / "prefect.yaml"


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of prefect.yaml, its entrypoint loaded and its parameters validated against the flow."""

    name: str
    flow: Flow[Any, Any]
    parameters: dict[str, Any]
    schedules: tuple[SCHEDULE_TYPES, ...]
    concurrency: ConcurrencyLimitConfig | None
    work_pool: str
    description: str


def load_entrypoint(entrypoint: str, root: Path) -> Flow[Any, Any]:
    """`flows/convert_all.py:convert_all` -> the flow object (imported as a module, as the worker would)."""
    path, _, name = entrypoint.partition(":")
    if not (root / path).is_file():
        raise DataprepError(f"entrypoint {entrypoint}: no file {root / path}")
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name, None)
    if not isinstance(flow, Flow):
        raise DataprepError(f"entrypoint {entrypoint}: {name} is not a Prefect flow")
    return flow


def parse_schedule(entry: dict[str, Any]) -> SCHEDULE_TYPES:
    extra = {k: v for k, v in entry.items() if k in ("timezone", "day_or", "anchor_date")}
    if "cron" in entry:
        return CronSchedule(cron=entry["cron"], **extra)
    if "interval" in entry:
        return IntervalSchedule(interval=entry["interval"], **extra)
    if "rrule" in entry:
        return RRuleSchedule(rrule=entry["rrule"], **extra)
    raise DataprepError(f"schedule {entry}: expected cron, interval or rrule")


def load_specs(path: Path = PREFECT_YAML, root: Path = PREFECT_YAML.parents[1]) -> list[DeploymentSpec]:
    """Every deployment of `path` (entrypoints relative to `root`); an error naming the deployment for
    anything Prefect would reject or only warn about (`prefect deploy` skips invalid parameters)."""
    document = yaml.safe_load(path.read_text())
    specs = []
    for entry in document["deployments"]:
        name = entry["name"]
        try:
            flow = load_entrypoint(entry["entrypoint"], root)
            flow.validate_parameters(entry.get("parameters") or {})
            limit = entry.get("concurrency_limit")
            concurrency = ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else (
                ConcurrencyLimitConfig(limit=limit) if limit else None)
            schedules = tuple(parse_schedule(s) for s in entry.get("schedules") or [])
        except Exception as err:
            raise DataprepError(f"{path}: deployment {name!r}: {err}") from err
        specs.append(DeploymentSpec(name, flow, entry.get("parameters") or {}, schedules, concurrency,
                                    entry["work_pool"]["name"], entry.get("description", "")))
    return specs
