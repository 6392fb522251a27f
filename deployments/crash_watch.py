"""The crash watch: a flow run whose process died (worker killed, host rebooted) is marked Crashed.

A run's process sends a `prefect.flow-run.heartbeat` event every `HEARTBEAT_S` (the deployments set
`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` in the run's environment, deployments/prefect.yaml). This automation waits,
per flow run, for the next heartbeat or a final state within `SILENCE_S` of a heartbeat; when neither comes it
sets the run Crashed. A Crashed run gives back its deployment's concurrency slot at once, so the next run of
that deployment starts; its dataset slot (tasks/dataset_slot.py) goes back when its lease runs out.

Measured on this machine (tests/test_schedule_e2e.py, the soak, and by hand): a SIGKILL of the worker and its
run mid-bag was marked Crashed 68, 71, 76 and 78 s later. In principle 45-75 s (`SILENCE_S` after the last
heartbeat, which came 0-30 s before the kill) plus the server's trigger loop and event delivery.
`python -m deployments.server start` installs the watch; `python -m deployments.crash_watch` installs it
against the configured server (e.g. a server not started by our command).
"""

from __future__ import annotations

import sys
from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

NAME = "dataprep: crash runs that stopped sending heartbeats"
HEARTBEAT_S = 30  # Prefect's minimum heartbeat interval (MINIMUM_HEARTBEAT_INTERVAL in prefect.flow_engine)
SILENCE_S = 75  # two missed heartbeats and a margin for a loaded machine
FINAL_EVENTS = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}


def crash_watch() -> AutomationCore:
    return AutomationCore(
        name=NAME,
        description=(f"Marks a flow run Crashed when it has sent no heartbeat and reached no final state for "
                     f"{SILENCE_S} s after a heartbeat: its process died (worker killed, host restarted). "
                     "Installed by python -m deployments.server start."),
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *FINAL_EVENTS},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=SILENCE_S),
        ),
        actions=[ChangeFlowRunState(
            name="Crashed", state=StateType.CRASHED, force=False,
            message=(f"No heartbeat for {SILENCE_S} s: the run's process died (worker killed or host restarted). "
                     "A new run resumes from the bags it staged."))],
    )


def ensure_crash_watch(api_url: str | None = None) -> str:
    """Create the automation unless the server has one by its name; say which."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    updates = {PREFECT_API_URL: api_url} if api_url else {}
    with temporary_settings(updates=updates), get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(NAME)
        if existing:
            return f"crash watch: automation {NAME!r} is installed ({existing[0].id})"
        created = client.create_automation(crash_watch())
    return f"crash watch: installed automation {NAME!r} ({created})"


if __name__ == "__main__":
    print(ensure_crash_watch())
    sys.exit(0)
