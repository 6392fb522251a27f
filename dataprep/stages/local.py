"""Running a stage's units without Prefect: one after another in this process, or several at once in a pool.

The pool's processes start with `forkserver` (a clean, single-threaded parent to fork from), never with a plain
`fork` of this process, whose encoder and monitor threads a forked child would inherit mid-lock; the server
imports the stage's modules once (`Stage.preload`), so each worker starts without importing them again. A
worker gets the stage, its plan and one unit, and sends back the unit's small result or its `UnitFailure`;
whatever the unit reports (chunk progress) crosses back through a queue to `on_report` in this process.

Every process the pool starts (forkserver, manager, workers) dies with this one however it ends
(`lifeline`), and a unit with a claim path is run holding its claim (`claim`), so a worker that outlives a
killed run can never write a unit at the same time as the rerun.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from multiprocessing.managers import SyncManager
from typing import Any

from dataprep.errors import RunError
from dataprep.stages.claim import unit_claim
from dataprep.stages.contract import Executor, PlanT, Report, ResultT, Stage, UnitT
from dataprep.stages.failure import UnitFailure
from dataprep.stages.lifeline import bind_to_run, mark_run
from dataprep.storage.crashpoints import crash_point

logger = logging.getLogger(__name__)


@contextmanager
def claimed(stage: Stage[PlanT, UnitT, Any, Any], plan: PlanT, unit: UnitT) -> Iterator[None]:
    """The unit's claim held for the block, when the stage gives it a claim path."""
    path = stage.claim_path(plan, unit)
    with unit_claim(path, stage.unit_name(unit)) if path is not None else nullcontext():
        yield


def _reporting(report: Report | None) -> Report:
    """`report`, behind the crash point tests use to kill a unit mid-way (after its first progress record)."""
    def forward(record: Any) -> None:
        crash_point("unit-reported")
        if report is not None:
            report(record)
    return forward


def attempt(stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT, unit: UnitT,
            report: Report | None = None) -> ResultT | UnitFailure:
    """One unit under the policy: its result, or its failure; a run-wide error is raised."""
    try:
        with claimed(stage, plan, unit):
            return stage.run_unit(plan, unit, _reporting(report))
    except Exception as err:  # noqa: BLE001 - the policy: whatever a unit raises is its failure (or run-wide)
        return stage.failure(unit, err)


def _init_worker(run_pid: int, stage: Stage[PlanT, Any, Any, Any], plan: PlanT) -> None:
    bind_to_run(run_pid)
    stage.prepare_worker(plan)


def _in_worker(stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT, unit: UnitT,
               reports: Any) -> ResultT | UnitFailure:
    return attempt(stage, plan, unit, reports.put if reports is not None else None)


class LocalExecutor(Executor):
    """In this process (`stage.workers(plan)` is 1) or in a forkserver process pool; `on_report` gets what
    units report, in this process."""

    def __init__(self, on_report: Report | None = None) -> None:
        self.on_report = on_report

    def run_units(self, stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT) -> list[ResultT | UnitFailure]:
        units = list(stage.units(plan))
        workers = min(stage.workers(plan), len(units))
        if workers > 1:
            return self._in_pool(stage, plan, units, workers)
        outcomes: list[ResultT | UnitFailure] = []
        for unit in units:
            outcome: ResultT | UnitFailure = attempt(stage, plan, unit, self.on_report)
            outcomes.append(outcome)
        return outcomes

    def _in_pool(self, stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT, units: list[UnitT],
                 workers: int) -> list[ResultT | UnitFailure]:
        """Every unit in a pool; when a worker dies (killed, out of memory) the pool breaks and every unit it
        still held fails with it, so those are run again one at a time, each in a pool of its own: the unit
        that killed its worker fails alone, named, and the others give their results."""
        order = _positions(units, stage.start_order(plan, units))
        outcomes: dict[int, ResultT | UnitFailure] = self._pool_run(stage, plan, [(i, units[i]) for i in order],
                                                                     workers)
        broken = [i for i, outcome in outcomes.items() if isinstance(outcome, UnitFailure)
                  and outcome.kind == "interrupted"]
        if len(broken) > 1:
            logger.warning("a worker died and took %d unit(s) with it; running them again one at a time",
                           len(broken))
            for i in broken:
                again: dict[int, ResultT | UnitFailure] = self._pool_run(stage, plan, [(i, units[i])], 1)
                outcomes.update(again)
        return [outcomes[i] for i in range(len(units))]

    def _pool_run(self, stage: Stage[PlanT, UnitT, ResultT, Any], plan: PlanT, units: list[tuple[int, UnitT]],
                  workers: int) -> dict[int, ResultT | UnitFailure]:
        """The units (with their plan positions, in start order) in one pool of `workers` processes."""
        mark_run()  # before the forkserver starts: it and every worker die with this process
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["dataprep.stages.lifeline", *stage.preload])
        with contextlib.ExitStack() as stack:  # unwinds: relay drained, pool joined, then the manager
            reports = None
            if self.on_report is not None:
                manager = SyncManager(ctx=context)
                manager.start(bind_to_run, (os.getpid(),))
                stack.callback(manager.shutdown)
                reports = manager.Queue()
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                                           initargs=(os.getpid(), stage, plan)))
            if reports is not None and self.on_report is not None:
                stack.callback(_Relay(reports, self.on_report).stop)
            futures = {i: pool.submit(_in_worker, stage, plan, unit, reports) for i, unit in units}
            try:
                outcomes: dict[int, ResultT | UnitFailure] = {}
                for i, unit in sorted(units, key=lambda pair: pair[0]):
                    outcome: ResultT | UnitFailure = self._collect(stage, unit, futures[i])
                    outcomes[i] = outcome
                return outcomes
            except RunError:
                for future in futures.values():
                    future.cancel()
                raise

    @staticmethod
    def _collect(stage: Stage[Any, UnitT, ResultT, Any], unit: UnitT,
                 future: Future[ResultT | UnitFailure]) -> ResultT | UnitFailure:
        try:
            return future.result()
        except RunError:
            raise
        except Exception as err:  # noqa: BLE001 - a worker that died (BrokenProcessPool) fails its unit, named
            return stage.failure(unit, err)


def _positions(units: list[UnitT], order: Sequence[UnitT]) -> list[int]:
    """The plan positions of `order` (the same unit objects as `units`, reordered)."""
    free: dict[int, list[int]] = {}
    for i, unit in enumerate(units):
        free.setdefault(id(unit), []).append(i)
    return [free[id(unit)].pop(0) for unit in order]


class _Relay:
    """Calls `on_report` in this process for every record the workers put on `reports`."""

    def __init__(self, reports: Any, on_report: Report) -> None:
        self._reports, self._on_report = reports, on_report
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unit-report-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set() or not self._reports.empty():
            try:
                record = self._reports.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the manager went away
                return
            self._on_report(record)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


__all__ = ["LocalExecutor", "attempt", "claimed"]
