"""The one registry of pipeline stages, for `convert_all` (through Prefect) and one-offs (without it).

Each entry says how the stage runs as a plain library call (no Prefect: the stage on the local executor),
which flow runs it through Prefect (an entrypoint, `module:function`, imported only when that path is taken,
so this module and its users import no Prefect), what to print of each result, and where the stage writes
(for the dataset slot and the output link artifact). One entry per section of `PipelineConfig`, in run order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from dataprep.conversion import ConversionReport, convert_dataset
from dataprep.errors import DataprepError
from dataprep.gopro import GoproStage
from dataprep.hdf5 import Hdf5Stage
from dataprep.sample.missing import write_missing_samples
from dataprep.stages import LocalExecutor, run_stage
from dataprep.validate import ValidationReport, validate_dataset
from flows.summaries import describe_conversion, describe_gopro, describe_index

PIPELINE_FLOW = "flows.convert_all:convert_all"  # the Prefect flow that runs every configured stage


class StageEntry(NamedTuple):
    """A pipeline stage: its library run and what to print of it, its Prefect flow (an entrypoint) and what to
    print of that, and the folder its section writes."""

    run_local: Callable[[Any], Any]
    describe_local: Callable[[Any], str]
    flow: str
    describe: Callable[[Any], str]
    output: Callable[[Any], Path]

    def run_flow(self, section: Any) -> Any:
        return load_entrypoint(self.flow)(section)


def load_entrypoint(entrypoint: str) -> Callable[..., Any]:
    """The function an entrypoint `module:function` names (importing its module, Prefect included)."""
    module, _, name = entrypoint.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def convert_and_validate(config: Any) -> tuple[ConversionReport, ValidationReport]:
    """The conversion, then the validator on what it wrote, as the flow does (there, as an artifact)."""
    report = convert_dataset(config)
    return report, validate_dataset(report.dataset.root)


def describe_validated(result: tuple[ConversionReport, ValidationReport]) -> str:
    report, validation = result
    return f"{describe_conversion(report)}\n  validation: {validation.table()}"


def _gopro_local(config: Any) -> Any:
    stage = GoproStage(config)
    return stage.raise_for_failures(run_stage(stage, LocalExecutor()))


def _hdf5_local(config: Any) -> Any:
    stage = Hdf5Stage(config)
    return stage.raise_for_failures(run_stage(stage, LocalExecutor()))


STAGES: dict[str, StageEntry] = {
    "rosbag_to_lerobot": StageEntry(convert_and_validate, describe_validated,
                                    "flows.rosbag_to_lerobot:rosbag_to_lerobot", describe_conversion,
                                    lambda section: section.dataset_root),
    "gopro_prepare": StageEntry(_gopro_local, describe_gopro, "flows.gopro_prepare:run_stage", describe_gopro,
                                lambda section: section.output_root),
    "hdf5_index": StageEntry(_hdf5_local, describe_index, "flows.hdf5_index:run_stage", describe_index,
                             lambda section: section.output_root),
}


def run_stages(config: Any, runners: Mapping[str, Callable[[Any], Any]],
               only: Sequence[str] | None = None) -> dict[str, Any]:
    """Run each configured stage in `runners` order (all of them, or those in `only`).

    A stage that fails on bad input does not stop the stages after it: its error is its result.
    """
    unknown = sorted(set(only or ()) - set(runners))
    if unknown:
        raise DataprepError(f"unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(runners)}")
    results: dict[str, Any] = {}
    for name, run in runners.items():
        section = getattr(config, name)
        if section is None or (only and name not in only):
            continue
        try:
            write_missing_samples(section)  # the bundled sample, once, before the stage (when configured)
            results[name] = run(section)
        except DataprepError as err:
            results[name] = err
    return results


def report_results(results: Mapping[str, Any], describe: Mapping[str, Callable[[Any], str]]) -> str:
    """What the stages produced, one description each; bad input of any stage raises, listing every one."""
    failed = {name: result for name, result in results.items() if isinstance(result, DataprepError)}
    text = "\n".join(describe[name](result) for name, result in results.items() if name not in failed)
    if failed:
        if text:
            print(text)
        raise DataprepError("\n".join(_named(name, error) for name, error in failed.items()))
    return text


def _named(stage: str, error: DataprepError) -> str:
    """The error with its stage in front, unless the message already names it (`gopro_prepare.gopro_root: ...`)."""
    message = str(error)
    return message if message.startswith((f"{stage}.", f"{stage}:")) else f"{stage}: {message}"


__all__ = ["PIPELINE_FLOW", "STAGES", "StageEntry", "load_entrypoint", "report_results", "run_stages"]
