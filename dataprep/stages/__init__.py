"""The stage contract every stage is written to: plan -> units -> run one unit -> conclude.

`Stage` (contract) says what a stage's units are and how one runs; `LocalExecutor` (local) runs them in this
process or a forkserver pool whose processes die with the run (lifeline), each unit under its claim (claim);
the Prefect executor lives in tasks/stages.py. `UnitFailure` and `unit_failure` (failure) are the one record
and the one policy for a unit that fails. No Prefect here.
"""

from dataprep.stages.contract import Executor, Report, Stage, StageOutcome, run_stage, split_outcomes
from dataprep.stages.failure import UnitFailure, unit_failure
from dataprep.stages.local import LocalExecutor

__all__ = [
    "Executor",
    "LocalExecutor",
    "Report",
    "Stage",
    "StageOutcome",
    "UnitFailure",
    "run_stage",
    "split_outcomes",
    "unit_failure",
]
