"""One writer per dataset across every Prefect run: the scheduled run and a one-off never write together.

A deployment's own `concurrency_limit` only orders runs of that deployment; the nightly run, a per-stage
deployment and a one-off against the same server can all target one output folder. Each stage therefore
takes the slot of its output folder, a Prefect global concurrency limit of 1, and a second run waits for it.
(A one-off run without Prefect talks to no server and takes no slot.)

The limit is read first and created only when the server has none: creating one whose name exists makes the
server answer 500 and log an `IntegrityError` traceback (a detached server has died of it), so a blind create
on every run is never made. The slot is held on a lease the holder renews while it runs: a run whose process
died (worker killed, host rebooted) stops renewing, and the server takes the slot back within `LEASE_S`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from tasks.artifacts import artifact_key

# How long a dead holder keeps the dataset from the next run: the server's repossessor frees an unrenewed
# lease after this (a live holder renews it well before).
LEASE_S = 60.0


def slot_name(root: Path) -> str:
    return artifact_key("dataset", root.resolve())


def ensure_slot(client: SyncPrefectClient, name: str) -> GlobalConcurrencyLimitResponse:
    """The limit `name`, created (limit 1) only when the server has none by that name."""
    try:
        return client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        pass
    with suppress(ObjectAlreadyExists):  # two first runs at once: the loser reads the winner's
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    return client.read_global_concurrency_limit_by_name(name)


@contextmanager
def dataset_slot(root: Path, lease_s: float = LEASE_S) -> Iterator[None]:
    """Hold the slot of `root` for the block; wait (and say so in the run's log) while another run holds it."""
    name = slot_name(root)
    with get_client(sync_client=True) as client:
        busy = ensure_slot(client, name).active_slots > 0
    if busy:
        get_run_logger().info("another run is writing %s: waiting for it (limit %s)", root, name)
    with concurrency(name, occupy=1, lease_duration=lease_s, strict=True):
        yield
