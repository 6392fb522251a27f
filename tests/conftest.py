"""Shared test setup: an isolated Prefect home, one Prefect test server per session, fixture paths."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Prefect reads its settings when first imported: point it at a private home before any test imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="dataprep-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

PROJECT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DATAPREP_SHARED", PROJECT.parent / "shared"))
FIXTURE_BAGS = SHARED / "fixtures" / "bags"


@pytest.fixture(scope="session")
def fixture_bags() -> Path:
    """The real bags recorded by other projects (read-only)."""
    if not FIXTURE_BAGS.is_dir():
        pytest.fail(f"fixture bags not found at {FIXTURE_BAGS}; set DATAPREP_SHARED to the shared/ folder")
    return FIXTURE_BAGS


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect test server for the whole session (it takes ~13 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
