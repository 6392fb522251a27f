"""docs/configuration-reference.md is generated from the configuration models and must match them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parents[1]


def load_generator() -> ModuleType:
    """scripts/ is not an installed package: load the generator from its file, as `python -m` would run it."""
    spec = importlib.util.spec_from_file_location("config_reference", PROJECT / "scripts" / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_reference", module)
    spec.loader.exec_module(module)
    return module


def test_the_committed_configuration_reference_is_current() -> None:
    generator = load_generator()
    committed = (PROJECT / "docs" / "configuration-reference.md").read_text()
    stale = "docs/configuration-reference.md is stale: run `python -m scripts.config_reference` and commit it"
    assert committed == generator.render(), stale


def test_every_configuration_field_has_a_description() -> None:
    missing = load_generator().undescribed()
    assert not missing, f"add description= to these fields (the reference shows them blank): {missing}"


def test_the_reference_lists_every_section_and_field_with_its_default() -> None:
    from dataprep.config import ConvertConfig

    text = load_generator().render()
    for heading in ("## `rosbag_to_lerobot`", "## `rosbag_to_lerobot.features.<name>.parts[]`", "## `gopro_prepare.spike`",
                    "## `hdf5_index.sources[]`", "## `loader`"):
        assert heading in text
    for name in ConvertConfig.model_fields:
        assert f"| `{name}` |" in text
    assert "| `fps` | int (> 0, <= 1000) | required | content | the frame grid's rate" in text
    assert '| `chunk_size` | int \\| "auto" | `300` | run |' in text


def test_check_mode_exits_1_on_a_stale_page(tmp_path: Path) -> None:
    generator = load_generator()
    page = tmp_path / "reference.md"
    page.write_text("old\n")
    assert generator.main(["--check", "--out", str(page)]) == 1
    assert generator.main(["--out", str(page)]) == 0
    assert generator.main(["--check", "--out", str(page)]) == 0
