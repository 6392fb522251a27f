"""One writer per dataset across every Prefect run: the scheduled run and a one-off never write together.

A deployment's own `concurrency_limit` only orders runs of that deployment; the nightly run, a per-stage
deployment and a one-off against the same server can all target one output folder. Each stage therefore
takes the slot of its output folder, a Prefect global concurrency limit of 1 created on first use, and a
second run waits for it. (A one-off run without Prefect talks to no server and takes no slot.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists

from tasks.artifacts import artifact_key


def slot_name(root: Path) -> str:
    return artifact_key("dataset", root.resolve())


@contextmanager
def dataset_slot(root: Path, lease_s: float = 300.0) -> Iterator[None]:
    """Hold the slot of `root` for the block; wait (and say so in the run's log) while another run holds it."""
    name = slot_name(root)
    with get_client(sync_client=True) as client:
        with suppress(ObjectAlreadyExists):
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        busy = client.read_global_concurrency_limit_by_name(name).active_slots > 0
    if busy:
        get_run_logger().info("another run is writing %s: waiting for it (limit %s)", root, name)
    with concurrency(name, occupy=1, lease_duration=lease_s, strict=True):
        yield
