"""The Prefect executor of the stage contract (`dataprep.stages`): one task run per unit.

The stage's unit task (tasks/conversion.py, gopro.py, hdf5.py) runs the unit and records its artifacts and
memory snapshot, raising whatever stops the unit, so the task run shows Failed (and is retried where its task
says so). Here each unit's final state goes through the same policy as the local executor's
(`Stage.failure`): the unit's result, or its `UnitFailure`; a `RunError` stops the run at once. So a stage
concludes on the same outcomes with and without Prefect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from prefect.futures import PrefectFuture

from dataprep.stages import Executor, Stage, UnitFailure
from dataprep.stages.contract import PlanT, ResultT, UnitT
from dataprep.stages.lifeline import bind_to_run
from dataprep.stages.local import claimed

Submit = Callable[[Any], PrefectFuture[Any]]


def _error_of(future: PrefectFuture[Any]) -> BaseException:
    """What ended a task run that did not complete (failed, crashed or cancelled)."""
    state = future.state
    try:
        error = state.result(raise_on_failure=False)
    except BaseException as err:  # noqa: BLE001 - a crashed run's result is raised, not returned
        return err
    if isinstance(error, BaseException):
        return error
    return RuntimeError(f"the task run ended {state.type.value}: {state.message}")


def collect_units(stage: Stage[Any, UnitT, ResultT, Any], units: Sequence[UnitT], submit: Submit,
                  start_order: Sequence[UnitT] | None = None) -> list[ResultT | UnitFailure]:
    """Submit a task per unit (in `start_order`), then per unit in plan order its result or its failure."""
    positions = {id(unit): i for i, unit in enumerate(units)}
    futures = {positions[id(unit)]: submit(unit) for unit in (start_order or units)}
    outcomes: list[ResultT | UnitFailure] = []
    for i, unit in enumerate(units):
        future = futures[i]
        future.wait()
        if future.state.is_completed():
            outcomes.append(future.result())
        else:
            outcomes.append(stage.failure(unit, _error_of(future)))
    return outcomes


class PrefectExecutor(Executor):
    """Runs each unit as a task through `submit(unit)` (the stage's unit task, bound to its arguments) on the
    calling flow's task runner."""

    def __init__(self, submit: Submit) -> None:
        self.submit = submit

    def run_units(self, stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT) -> list[ResultT | UnitFailure]:
        units = list(stage.units(plan))
        return collect_units(stage, units, self.submit, stage.start_order(plan, units))


@contextmanager
def unit_scope(stage: Stage[PlanT, UnitT, Any, Any], plan: PlanT, unit: UnitT) -> Iterator[None]:
    """Inside a unit task: this worker dies with the run (a process or Dask worker; no-op in the run's own
    process) and the unit's claim is held while it writes, as in the local executor."""
    bind_to_run()
    with claimed(stage, plan, unit):
        yield


__all__ = ["PrefectExecutor", "collect_units", "unit_scope"]
