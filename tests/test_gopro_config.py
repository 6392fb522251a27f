"""The gopro_prepare section: errors found in the file, and errors found on disk before any work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from gopro_mini import build, digest

from dataprep.config import ConfigError, PipelineConfig, load_config
from dataprep.gopro import prepare_tree
from dataprep.gopro.errors import GoproConfigError
from dataprep.gopro.scan import check_inputs
from dataprep.sample.missing import write_missing_samples
from flows.gopro_prepare import main

PROJECT = Path(__file__).resolve().parents[1]


def write_pipeline(path: Path, section: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"gopro_prepare": section}))
    return path


def section(tmp_path: Path, **changes: object) -> dict[str, object]:
    base = {
        "gopro_root": str(tmp_path / "raw/gopro"),
        "spike_root": str(tmp_path / "raw/spike"),
        "output_root": str(tmp_path / "out"),
        "spike": {"encoding": "bytes", "frames": 4, "height": 6, "width": 8},
        "voxels": {"bins": 2},
    }
    return base | changes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"voxels": {"bins": 3}},
            ("gopro_prepare: spike.frames 4 does not divide into voxels.bins 3 equal groups; "
            "choose bins among [1, 2, 4]"),
        ),
        (
            {"spike": {"encoding": "bitpacked", "frames": 4, "height": 3, "width": 3}},
            "gopro_prepare.spike: bitpacked frames of 3 x 3 pixels are not whole bytes",
        ),
        (
            {"spike": {"encoding": "raw", "frames": 4, "height": 6, "width": 8}},
            "gopro_prepare.spike.encoding: ",
        ),
        (
            {"layout": {"spike_pattern": r"\d+\.dat"}},
            "gopro_prepare.layout.spike_pattern: pattern '\\\\d+\\\\.dat' has no (?P<frame>...) group",
        ),
        ({"sources": ["blur", "spike"]}, "must all be different folder names"),
        ({"sources": ["../blur"]}, "gopro_prepare.sources: name '../blur' may only hold"),
        ({"spike_roots": "x"}, "gopro_prepare.spike_roots: Extra inputs are not permitted"),
        ({"workers": 0}, "gopro_prepare.workers: at least 1 worker is needed"),
        (
            {"workers": "half"},
            "gopro_prepare.workers: worker count 'half': give an integer, 'auto' or 'cpu*RATIO'",
        ),
    ],
)
def test_section_errors_name_the_key(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    path = write_pipeline(tmp_path / "p.yaml", section(tmp_path, **changes))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(PipelineConfig, path)


def test_example_configuration_validates() -> None:
    config = load_config(PipelineConfig, PROJECT / "configs/gopro_spike.yaml").gopro_prepare
    assert config is not None and config.spike.encoding == "bitpacked" and config.voxels is not None


def test_missing_root_fails_before_any_work_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pipeline(tmp_path / "p.yaml", section(tmp_path))
    assert main(["--config", str(path)]) == 2
    assert (
        capsys.readouterr().err == f"error: gopro_prepare.gopro_root: {tmp_path}/raw/gopro does not exist\n"
    )
    assert not (tmp_path / "out").exists()


def test_geometry_no_file_has_fails_before_any_work_naming_the_key(tmp_path: Path) -> None:
    tree = build(
        tmp_path, "bytes", spike={"encoding": "bytes", "frames": 5, "height": 6, "width": 8}, voxels=None
    )
    before = digest(tmp_path / "raw")
    with pytest.raises(
        GoproConfigError,
        match=r"^gopro_prepare\.spike: frames x height x width = bytes 5 x 6 x 8 "
        r"\(240 bytes\) matches none of the 9 spike file\(s\)",
    ):
        prepare_tree(tree.config)
    assert not tree.out.exists() and digest(tmp_path / "raw") == before


def test_output_inside_a_raw_root_and_unknown_splits_are_refused(tmp_path: Path) -> None:
    tree = build(tmp_path, "bytes")
    inside = tree.config.model_copy(update={"output_root": tree.spike / "prepared"})
    with pytest.raises(GoproConfigError, match=r"gopro_prepare\.output_root: .* overlaps spike_root"):
        check_inputs(inside)
    with pytest.raises(GoproConfigError, match=r"gopro_prepare.splits: \['val'\] not found in"):
        check_inputs(tree.config.model_copy(update={"splits": ("train", "val")}))
    assert check_inputs(tree.config.model_copy(update={"splits": ("train",)})) == ("train",)
    assert check_inputs(tree.config) == ("test", "train")


def test_bundled_sample_is_generated_on_first_use_and_prepares_cleanly(tmp_path: Path) -> None:
    overrides = [
        f"gopro_prepare.{key}={tmp_path / value}"
        for key, value in (
            ("gopro_root", "sample/gopro"),
            ("spike_root", "sample/spike"),
            ("output_root", "out"),
        )
    ]
    config = load_config(PipelineConfig, PROJECT / "configs/gopro_sample.yaml", overrides).gopro_prepare
    assert config is not None
    assert write_missing_samples(config) == (config.gopro_root, config.spike_root)  # before any stage runs
    totals = prepare_tree(config).totals()
    assert (totals["sequences"], totals["frames"], totals["frames_left_out"], totals["voxels_written"]) == (
        3,
        20,
        0,
        20,
    )
    before = digest(tmp_path / "sample")
    assert write_missing_samples(config) == ()
    assert prepare_tree(config).totals()["links_unchanged"] == 60 and digest(tmp_path / "sample") == before
