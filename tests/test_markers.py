"""The markers tests/conftest.py gives every test, and what a missing fixture does on a laptop and in CI."""

from __future__ import annotations

import pytest
from conftest import UNIT_MODULES, markers_for, missing_fixture


def test_a_new_test_file_is_integration_until_listed_as_unit() -> None:
    assert markers_for("test_something_new.py", ["tmp_path"]) == {"integration"}
    assert markers_for("test_aligner.py", ["tmp_path"]) == {"unit"}


def test_a_prefect_server_or_chromium_makes_a_test_integration_whatever_its_module() -> None:
    assert markers_for("test_aligner.py", ["prefect_server"]) == {"prefect", "integration"}
    assert markers_for("test_schedule_e2e.py", ["chromium", "scheduled_run"]) == {"browser", "integration"}


def test_the_real_bags_mark_a_test_shared_and_leave_its_speed_class_alone() -> None:
    assert markers_for("test_rosbag_reader.py", ["fixture_bags"]) == {"shared", "unit"}
    assert markers_for("test_inspect.py", ["fixture_bags", "tmp_path"]) == {"shared", "integration"}


def test_every_unit_module_exists(request: pytest.FixtureRequest) -> None:
    """A module renamed or deleted leaves UNIT_MODULES too, or the list of fast tests rots unnoticed."""
    tests = request.path.parent
    assert sorted(name for name in UNIT_MODULES if not (tests / name).is_file()) == []


def test_this_module_runs_as_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_a_missing_fixture_skips_with_its_reason_unless_required() -> None:
    with pytest.raises(pytest.skip.Exception, match="bags not found at /nowhere"):
        missing_fixture("bags not found at /nowhere", required=False)
    with pytest.raises(pytest.fail.Exception, match="DATAPREP_REQUIRE_FIXTURES=1"):
        missing_fixture("bags not found at /nowhere", required=True)
