"""A module fixture whose setup runs in a thread from the start of the session, so its waiting overlaps the suite.

The scheduled-runs soak spends about three minutes of its setup waiting on real processes (a server starting,
runs going through a worker, a killed run that the crash watch marks Crashed no sooner than ~70 s after the
kill) while the machine's cores are idle. Run in line, that wait is a third of the suite's wall time; started
when the session starts (tests/conftest.py's `background_setups` starts every module's `BACKGROUND`), it is
done by the time pytest reaches the module, which takes the value with `wait`.

The setup is a generator function, like a pytest fixture: what it yields is the value, the code after the
yield (or its `finally`) is the teardown, which `close` runs in the caller's thread. The setup is handed an
event that is set when the session ends before the setup did; its waits check it (raising
`SetupCancelledError`), so that closing never waits out a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Generic, TypeVar

import pytest

T = TypeVar("T")


class SetupCancelledError(Exception):
    """Raised inside a setup's wait when the session is closing before the setup finished."""


class BackgroundSetup(Generic[T]):
    def __init__(self, setup: Callable[[pytest.TempPathFactory, threading.Event], Generator[T, None, None]]) -> None:
        self.setup = setup
        self.cancelled = threading.Event()
        self._thread: threading.Thread | None = None
        self._generator: Generator[T, None, None] | None = None
        self._value: T | None = None
        self._error: BaseException | None = None

    def start(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        """Begin the setup in a daemon thread; a second call does nothing."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(tmp_path_factory,), name=self.setup.__name__,
                                            daemon=True)
            self._thread.start()

    def _run(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        generator = self.setup(tmp_path_factory, self.cancelled)
        try:
            self._value = next(generator)
            self._generator = generator
        except BaseException as error:  # noqa: BLE001 - handed to the test thread by `wait`
            self._error = error

    def wait(self, tmp_path_factory: pytest.TempPathFactory, timeout_s: float) -> T:
        """The setup's value, once it is there (started here when nothing started it); its error, raised here."""
        self.start(tmp_path_factory)
        assert self._thread is not None
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"{self.setup.__name__} still running after {timeout_s:.0f} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when the thread ended without an error

    def close(self) -> None:
        """Run the setup's teardown once; when the setup is still running, cancel it and wait for it first."""
        if self._thread is None:
            return
        self.cancelled.set()
        self._thread.join()
        generator, self._generator = self._generator, None
        if generator is not None:
            try:
                next(generator)
            except StopIteration:
                pass
            else:
                raise AssertionError(f"{self.setup.__name__} yielded twice")
