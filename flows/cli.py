"""The command line every flow module shares: `--config PATH`, repeatable `--set key.path=value`.

The configuration is loaded and validated here, before any flow starts, so a bad file fails in a moment
with one message instead of after Prefect's start; bad input found later is printed as one `error:` block.
The console is for people: while a command runs, Prefect's console handler drops its own reports of task and
flow runs that failed on a `DataprepError` (the traceback, "Finished in state Failed"), since the `error:`
block says the same in words. Those records, tracebacks included, still reach the Prefect server's logs
and the log file `$PREFECT_HOME/logs/dataprep.log`. Ctrl-C is one line too (what stopped, that a rerun
resumes) and exit status 130, the shell's convention for SIGINT; its traceback goes to the log file.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


def stage_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the shared options; a flow adds its own (e.g. `--dry-run`) before parsing."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline configuration (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a configuration value, e.g. rosbag_to_lerobot.fps=15 (repeatable)")
    return parser


def load_pipeline(args: argparse.Namespace) -> PipelineConfig:
    return load_config(PipelineConfig, Path(args.config), args.overrides)


def load_section(args: argparse.Namespace, stage: str, *, samples: bool = True) -> Any:
    """The validated section of one stage, its bundled sample written when it asks for one and it is missing
    (`samples`: a command that only looks, such as --clean-staging, writes none); an error naming the file
    when the section is absent."""
    section = getattr(load_pipeline(args), stage)
    if section is None:
        raise DataprepError(f"{args.config} has no {stage!r} section; add one or pass a configuration that has it")
    if samples:
        from dataprep.sample.missing import write_missing_samples  # rosbags' writers, only for a stage that runs

        write_missing_samples(section)
    return section


def _dataprep_error_names() -> set[str]:
    names, pending = set(), [DataprepError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending += cls.__subclasses__()
    return names


class _QuietDataprepFailures(logging.Filter):
    """Drops Prefect's run-failure records about a `DataprepError` (the CLI prints those in words)."""

    _RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
    _NAMED = re.compile(r"exception (\w+)[(:]|Encountered exception during execution: (\w+)\(|"
                        r"failed with exception: (\w+)\(")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            return False  # Ctrl-C: run_cli says it in one line
        if not record.name.startswith(self._RUN_LOGGERS) or record.levelno < logging.ERROR:
            return True
        if record.exc_info and isinstance(record.exc_info[1], DataprepError):
            return False
        if "KeyboardInterrupt" in record.getMessage() or "aborted by an interrupt signal" in record.getMessage():
            return False
        match = self._NAMED.search(record.getMessage())
        named = next((group for group in match.groups() if group), None) if match else None
        return named not in _dataprep_error_names()


def log_file() -> Path:
    """Where the CLI keeps every warning and traceback of a run, beside Prefect's own files."""
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    return home / "logs" / "dataprep.log"


@contextlib.contextmanager
def _console_for_people() -> Iterator[logging.FileHandler | None]:
    """Quiet DataprepError tracebacks on the console and keep everything in the log file meanwhile.

    Prefect puts its console handler on the root logger when it is imported, which every flow module does
    before this runs; a command without Prefect (inspect_bags) has nothing to quiet.
    """
    root = logging.getLogger()
    quiet = _QuietDataprepFailures()
    consoles = [h for h in root.handlers if isinstance(h, logging.StreamHandler)
                and not isinstance(h, logging.FileHandler)]
    handler: logging.FileHandler | None = None
    try:
        log_file().parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file(), encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    except OSError:
        pass  # no log file: the Prefect server's logs still hold the tracebacks
    for console in consoles:
        console.addFilter(quiet)
    try:
        yield handler
    finally:
        for console in consoles:
            console.removeFilter(quiet)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()


def command_name(argv0: str | None = None) -> str:
    """How the user started this command: `python -m flows.convert_all` for a module of the project."""
    path = Path(sys.argv[0] if argv0 is None else argv0).resolve()
    if path.suffix == ".py" and path.is_relative_to(PROJECT_ROOT):
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        return f"python -m {module}"
    return path.name or "the command"


def _log_traceback(log: logging.FileHandler | None, message: str, err: BaseException) -> None:
    """The traceback goes to the file only, never to the console."""
    if log is not None:
        log.handle(logging.getLogger(__name__).makeRecord(
            __name__, logging.ERROR, __file__, 0, message, (), (type(err), err, err.__traceback__)))


def interrupted_message(command: str, log: Path | None) -> str:
    where = f"; the traceback is in {log}" if log is not None else ""
    return (f"interrupted: {command} stopped by Ctrl-C; run it again to resume (finished and staged work is "
            f"kept, the unit that was running starts over){where}")


def run_cli(action: Callable[[], str]) -> int:
    """Run `action` and print what it returns; a `DataprepError` becomes one `error:` block and exit status 2.

    Any other exception is a bug: one line says so and where the traceback is, and the status is 1. Ctrl-C
    (KeyboardInterrupt, wherever Prefect re-raises it) is one line and status 130.
    """
    with _console_for_people() as log:
        try:
            text = action()
        except KeyboardInterrupt as err:
            _log_traceback(log, f"{command_name()} interrupted", err)
            print(interrupted_message(command_name(), Path(log.baseFilename) if log else None), file=sys.stderr)
            return INTERRUPTED
        except Exception as err:  # noqa: BLE001 - the console's last line of defence: one line, not a traceback
            _log_traceback(log, "run failed", err)
            if isinstance(err, DataprepError):
                print(f"error: {err}", file=sys.stderr)
                return 2
            where = f"; the traceback is in {log.baseFilename}" if log is not None else ""
            print(f"error: unexpected {type(err).__name__}: {err}{where}", file=sys.stderr)
            return 1
    if text:
        print(text)
    return 0
