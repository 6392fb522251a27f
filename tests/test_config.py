"""Configuration files: presets, extends, overrides and the models' own checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dataprep.config import ConfigError, ConvertConfig, PipelineConfig, load_config, parse_overrides
from dataprep.config.models import Transform
from dataprep.features import apply_transforms

PROJECT = Path(__file__).resolve().parents[1]


def test_default_configuration_is_the_kuavo_preset_on_the_sample() -> None:
    config = load_config(PipelineConfig, PROJECT / "configs/default.yaml").rosbag_to_lerobot
    assert config is not None and config.input.generate_sample_if_missing
    kuavo = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                        ["input.bags=x"])
    assert config.features == kuavo.features and config.cameras == kuavo.cameras
    assert config.fps == 10 and config.timeline.main_camera == "head_cam_h"
    assert sorted(config.cameras) == ["head_cam_h", "wrist_cam_l", "wrist_cam_r"]
    for key in ("observation.state", "action"):
        assert len(config.features[key].names or ()) == 16


def test_extends_chains_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({"fps": 30, "task": "a", "video": {"codec": "h264", "g": 4}}))
    (tmp_path / "mid.yaml").write_text(yaml.safe_dump({"extends": "base.yaml", "video": {"g": 8}}))
    (tmp_path / "top.yaml").write_text(yaml.safe_dump({"extends": "mid.yaml", "repo_id": "a/b",
                                                       "input": {"bags": "x"},
                                                       "features": {"s": {"parts": [{"topic": "/t", "field": "f"}]}}}))
    config = load_config(ConvertConfig, tmp_path / "top.yaml", ["fps=15", "video.crf=20"])
    assert (config.fps, config.video.codec, config.video.g, config.video.crf) == (15, "h264", 8, 20)
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(ConvertConfig, tmp_path / "loop.yaml")


def test_override_syntax_errors() -> None:
    assert parse_overrides(["a.b=1", "a.c=[1, 2]", "d=x"]) == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        parse_overrides(["novalue"])


def test_missing_configuration_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"cannot read configuration {tmp_path}/absent.yaml"):
        load_config(PipelineConfig, tmp_path / "absent.yaml")


def test_index_and_slice_selectors() -> None:
    part = {"topic": "/t", "field": "f"}
    config = ConvertConfig.model_validate({"input": {"bags": "x"}, "repo_id": "a/b", "fps": 10, "task": "t",
                                           "features": {"s": {"parts": [{**part, "index": "12:19"},
                                                                        {**part, "index": 3}, {**part, "index": "::2"}]}}})
    assert [p.selector() for p in config.features["s"].parts] == [slice(12, 19), 3, slice(None, None, 2)]
    with pytest.raises(ValueError, match="not an index"):
        ConvertConfig.model_validate({"input": {"bags": "x"}, "repo_id": "a/b", "fps": 10, "task": "t",
                                      "features": {"s": {"parts": [{**part, "index": "1-3"}]}}})


def test_transforms_apply_in_order() -> None:
    transforms = [Transform.model_validate(t) for t in ("deg2rad", {"scale": 2.0}, {"offset": -1.0})]
    values = apply_transforms([90.0, 180.0], transforms)
    assert values.tolist() == pytest.approx([3.14159265 - 1, 2 * 3.14159265 - 1])
    threshold = Transform.model_validate({"threshold": 50})
    assert apply_transforms([10, 50, 90], [threshold]).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="deg2rad takes no value"):
        Transform.model_validate({"deg2rad": 1})


def test_a_stage_preset_given_as_the_pipeline_says_how_to_use_it() -> None:
    with pytest.raises(ConfigError, match=r"kuavo.yaml: .*one rosbag_to_lerobot stage.*extends: kuavo.yaml"):
        load_config(PipelineConfig, PROJECT / "configs/kuavo.yaml")


def test_set_reaches_dotted_feature_keys_through_quotes() -> None:
    config = load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml", [
        "input.bags=x", 'features."observation.state".dtype=float64',
        "features.'action'.names=null"])
    assert config.features["observation.state"].dtype == "float64" and config.features["action"].names is None
    assert parse_overrides(['a."b.c".d=1', "a.'x.y'=2"]) == {"a": {"b.c": {"d": 1}, "x.y": 2}}
    with pytest.raises(ConfigError, match=r"""override key 'a\."b\.c': expected a name or a quoted name at """
                                          r"""character 3 \(a key segment holding dots is written in quotes"""):
        parse_overrides(['a."b.c=1'])
    with pytest.raises(ConfigError, match=r"""override key 'a\."b"c': expected '\.' after 'b'"""):
        parse_overrides(['a."b"c=1'])


def test_reserved_feature_names_and_default_widths_are_refused_at_config_time() -> None:
    from dataprep.config import models
    from dataprep.feature_names import DEFAULT_FEATURES, RESERVED_FEATURES
    from dataprep.lerobot import layout, schema

    # one constant, read by configuration and the writer alike (no copy to keep equal)
    assert models.RESERVED_FEATURES is schema.RESERVED_FEATURES is RESERVED_FEATURES
    assert layout.DEFAULT_FEATURES is DEFAULT_FEATURES and tuple(DEFAULT_FEATURES) == RESERVED_FEATURES

    def convert(features: dict) -> ConvertConfig:
        return ConvertConfig.model_validate({"input": {"bags": "x"}, "repo_id": "a/b", "fps": 10, "task": "t",
                                             "features": features})

    part = {"topic": "/j", "field": "q"}
    for name in ("timestamp", "index", "task_index"):
        with pytest.raises(ValueError, match=rf"feature name '{name}' is reserved"):
            convert({name: {"parts": [part]}})
    with pytest.raises(ValueError, match=r"observation.images.\* is for cameras; configure it under cameras.top"):
        convert({"observation.images.top": {"parts": [part]}})
    with pytest.raises(ValueError, match=r"default has 2 values but index '12:19' selects 7"):
        convert({"s": {"parts": [{**part, "index": "12:19", "default": [0, 0]}]}})
    with pytest.raises(ValueError, match=r"default has 2 values but index 3 selects 1"):
        convert({"s": {"parts": [{**part, "index": 3, "default": [0, 0]}]}})
    assert convert({"s": {"parts": [{**part, "index": "-2:", "default": [0, 0]}]}})  # width known only from data
