"""The stage contract: plan -> units -> run one unit -> conclude.

A stage says what its units are and how one runs; an executor (`LocalExecutor` here, the Prefect one in
tasks/stages.py) decides where units run and knows nothing of what they do. Between the two sits one
policy (`failure.unit_failure`): whatever a unit raises is that unit's `UnitFailure`, a `RunError` stops the
run, and `conclude` gets every result and every failure in plan order, so one run names every bad unit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from dataprep.errors import DataprepError
from dataprep.stages.failure import UnitFailure, unit_failure

PlanT = TypeVar("PlanT")
UnitT = TypeVar("UnitT")
ResultT = TypeVar("ResultT")
ReportT = TypeVar("ReportT")

Report = Callable[[Any], None]  # how a unit sends small progress records to the run (chunk reports)


class StageOutcome(NamedTuple, Generic[ResultT]):
    """What the units gave, each list in plan order."""

    results: tuple[ResultT, ...]
    failures: tuple[UnitFailure, ...]


class Stage(ABC, Generic[PlanT, UnitT, ResultT, ReportT]):
    """One stage of the pipeline; concrete stages hold their configuration section and are picklable (a pool
    sends them to its workers with each unit)."""

    name: str = "stage"
    preload: tuple[str, ...] = ()  # modules a pool's forkserver imports once for every worker

    @abstractmethod
    def plan(self) -> PlanT:
        """Everything decided once, before any unit runs (inputs found, output checked writable)."""

    @abstractmethod
    def units(self, plan: PlanT) -> Sequence[UnitT]:
        """The units, in plan order (the order results and failures are concluded in)."""

    @abstractmethod
    def run_unit(self, plan: PlanT, unit: UnitT, report: Report | None = None) -> ResultT:
        """Run one unit; raise whatever stops it (the policy makes it this unit's failure)."""

    @abstractmethod
    def conclude(self, plan: PlanT, outcome: StageOutcome[ResultT]) -> ReportT:
        """Write what the results make (index, report, dataset); the stage's error setting decides here
        whether failures fail the run."""

    def unit_name(self, unit: UnitT) -> str:
        """How messages and records name the unit (a path, split/sequence)."""
        return str(unit)

    def name_failure(self, unit: UnitT, err: BaseException) -> DataprepError | None:  # noqa: ARG002
        """The stage's own wording of `err` (a `DataprepError` naming the unit), or None for the default."""
        return None

    def workers(self, plan: PlanT) -> int:  # noqa: ARG002
        """How many units may run at once in a local pool (1: in the calling process)."""
        return 1

    def start_order(self, plan: PlanT, units: Sequence[UnitT]) -> Sequence[UnitT]:  # noqa: ARG002
        """The order to start units in (results are still concluded in plan order)."""
        return units

    def claim_path(self, plan: PlanT, unit: UnitT) -> Path | None:  # noqa: ARG002
        """Where the unit's claim file goes (`claim.unit_claim`), or None when units need no claim."""
        return None

    def prepare_worker(self, plan: PlanT) -> None:
        """Set up a pool worker process before its first unit (thread budgets)."""

    def raise_for_failures(self, report: ReportT) -> ReportT:
        """The stage's result for `convert_all` and the CLI (an error after the report, for some stages)."""
        return report

    def failure(self, unit: UnitT, err: BaseException) -> UnitFailure:
        """`err` as `unit`'s failure under the one policy; raises it when it is run-wide."""
        return unit_failure(self.unit_name(unit), err, self.name_failure(unit, err))


class Executor(ABC):
    """Runs a stage's units somewhere; knows nothing of what they do."""

    @abstractmethod
    def run_units(self, stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT) -> list[ResultT | UnitFailure]:
        """Every unit attempted; per unit, in plan order, its result or its failure. A `RunError` stops the run."""


def split_outcomes(outcomes: Sequence[ResultT | UnitFailure]) -> StageOutcome[ResultT]:
    """Results and failures, each in plan order."""
    return StageOutcome(tuple(o for o in outcomes if not isinstance(o, UnitFailure)),
                        tuple(o for o in outcomes if isinstance(o, UnitFailure)))


def run_stage(stage: Stage[PlanT, UnitT, ResultT, ReportT], executor: Executor) -> ReportT:
    """Plan, run every unit on `executor`, conclude: the whole stage."""
    plan = stage.plan()
    outcomes: list[ResultT | UnitFailure] = executor.run_units(stage, plan)
    return stage.conclude(plan, split_outcomes(outcomes))


__all__ = ["Executor", "Report", "Stage", "StageOutcome", "run_stage", "split_outcomes"]
