"""Shared test setup: an isolated Prefect home, one Prefect test server per session, fixture paths, markers.

Markers (registered in pyproject.toml) are applied here, centrally, so a new test file needs no marker of its own:

- `unit`: fast, in-process tests of the library; `python -m pytest -m unit` runs them alone (well under a minute).
  A module is unit when it is named in `UNIT_MODULES` below; every other module is `integration` by default
  (it may start processes, encode video or convert whole bags), so a slow new file never slows the unit run.
- `integration`: everything else, and any test that uses the `prefect_server` or `chromium` fixture, whatever
  its module.
- `prefect`: uses the session's Prefect test server (`prefect_server`).
- `shared`: reads the real bags in `../shared/fixtures/bags/` (`fixture_bags`); skipped when they are absent.
- `browser`: drives headless Chromium (`chromium`); skipped when it is not installed.

`.ci/run` sets DATAPREP_REQUIRE_FIXTURES=1: there a missing shared/ folder or Chromium fails the test instead of
skipping it, so CI runs everything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn

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
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")  # as scripts/ui_screenshot.py looks for it
REQUIRE_FIXTURES = os.environ.get("DATAPREP_REQUIRE_FIXTURES") == "1"

# Fast, in-process test modules (the whole list runs in about half a minute on one core). Add a module here when
# its tests take well under a second each and start no server, subprocess or browser.
UNIT_MODULES = frozenset({
    "test_aligner.py", "test_clock.py", "test_config.py", "test_config_reference.py", "test_definitions.py",
    "test_deployments.py", "test_episode_writer_pieces.py", "test_episodes.py", "test_golden.py",
    "test_gopro_config.py", "test_gopro_dataset.py", "test_gopro_prepare.py", "test_gopro_spikes.py",
    "test_hdf5_readers.py", "test_images.py", "test_info.py", "test_markers.py", "test_memory_rules.py",
    "test_memory_sources.py", "test_quality.py", "test_rosbag_reader.py", "test_sample_bags.py",
    "test_shared_helpers.py", "test_staging.py", "test_stats.py",
})
# fixture -> the markers a test that uses it gets
FIXTURE_MARKERS = {
    "prefect_server": ("prefect", "integration"),
    "chromium": ("browser", "integration"),
    "fixture_bags": ("shared",),
}


def markers_for(module: str, fixtures: Iterable[str]) -> set[str]:
    """The markers a test gets from its module's file name and the fixtures it uses (see the module docstring)."""
    names = {marker for fixture in fixtures for marker in FIXTURE_MARKERS.get(fixture, ())}
    if module not in UNIT_MODULES:
        names.add("integration")
    return names | {"integration" if "integration" in names else "unit"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every collected test by its module and by the fixtures it uses."""
    for item in items:
        for name in sorted(markers_for(item.path.name, getattr(item, "fixturenames", ()))):
            item.add_marker(name)


def missing_fixture(reason: str, required: bool) -> NoReturn:
    """Skip on a contributor's machine; fail where the fixtures are required (CI)."""
    if required:
        pytest.fail(f"{reason} (DATAPREP_REQUIRE_FIXTURES=1: CI must run every test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fixture_bags() -> Path:
    """The real bags recorded by other projects (read-only), in ../shared/fixtures/bags/ or $DATAPREP_SHARED."""
    if not FIXTURE_BAGS.is_dir():
        missing_fixture(f"fixture bags not found at {FIXTURE_BAGS}; put shared/ beside the project or set "
                        "DATAPREP_SHARED", REQUIRE_FIXTURES)
    return FIXTURE_BAGS


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless Chromium binary the UI screenshot test drives (Debian's `chromium` package)."""
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    missing_fixture("Chromium not found on PATH; install it with `apt-get install chromium`", REQUIRE_FIXTURES)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect test server for the whole session (it takes ~13 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session", autouse=True)
def background_setups(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Start, as the session starts, the `BACKGROUND` setup of every collected module that has one (see
    tests/background_setup.py), so minutes of waiting on real servers overlap the other tests; the module's own
    fixture takes the value. Closed here too, for a session that ends before reaching the module."""
    modules = {getattr(item, "module", None) for item in request.session.items}
    setups = [setup for module in modules if (setup := getattr(module, "BACKGROUND", None)) is not None]
    for setup in setups:
        setup.start(tmp_path_factory)
    yield
    for setup in setups:
        setup.close()
