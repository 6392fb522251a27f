"""GoPro preparation leaves out frames whose images are not `spike.image_scale` times the spike size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dataprep.config import GoproPrepareConfig
from dataprep.gopro import SpikeGeometry, prepare_tree
from dataprep.gopro.sizes import image_shape
from dataprep.sample import GoproTreeSpec, write_gopro_tree

SEQUENCE = "train/GOPR0372_07_00"
GEOMETRY = SpikeGeometry("bitpacked", 4, 4, 8, True)  # 8 x 4 spikes


def tree(tmp_path: Path, scale: float | None) -> GoproPrepareConfig:
    gopro, spike = tmp_path / "gopro", tmp_path / "spike"
    if not gopro.exists():
        write_gopro_tree(gopro, spike, GoproTreeSpec({SEQUENCE: ["000001", "000002", "000003"]}, geometry=GEOMETRY,
                                                     image_size=(8, 16)))
        wrong = np.zeros((9, 16, 3), dtype=np.uint8)  # one frame's sharp image is a row too tall
        assert cv2.imwrite(str(gopro / SEQUENCE / "sharp/000002.png"), wrong)
    spec = {"encoding": "bitpacked", "frames": 4, "height": 4, "width": 8, "image_scale": scale}
    return GoproPrepareConfig.model_validate({"gopro_root": gopro, "spike_root": spike,
                                              "output_root": tmp_path / f"out-{scale}", "spike": spec})


def test_frames_whose_images_do_not_match_the_spikes_at_the_scale_are_left_out_and_named(tmp_path: Path) -> None:
    report = prepare_tree(tree(tmp_path, 2))
    (result,) = report.sequences
    assert result.frames == 2
    assert [(f.frame, f.reason) for f in result.left_out] == [
        ("000002", "image size: sharp is 16 x 9, spikes 8 x 4 at image_scale 2 need 16 x 8")]


def test_a_wrong_scale_leaves_out_every_frame_and_no_scale_checks_nothing(tmp_path: Path) -> None:
    (same,) = prepare_tree(tree(tmp_path, 1)).sequences
    assert same.frames == 0 and all("need 8 x 4" in f.reason for f in same.left_out)
    (unchecked,) = prepare_tree(tree(tmp_path, None)).sequences
    assert unchecked.frames == 3 and not unchecked.left_out


def test_image_shape_reads_png_headers_and_decodes_other_formats(tmp_path: Path) -> None:
    image = np.zeros((5, 7, 3), dtype=np.uint8)
    for name in ("a.png", "a.jpg"):
        assert cv2.imwrite(str(tmp_path / name), image)
        assert image_shape(tmp_path / name) == (5, 7)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert image_shape(tmp_path / "broken.png") is None
    assert image_shape(tmp_path / "missing.png") is None


def test_image_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="image_scale"):
        GoproPrepareConfig.model_validate({"gopro_root": "g", "spike_root": "s", "output_root": "o",
                                           "spike": {"encoding": "bytes", "frames": 1, "height": 1, "width": 1,
                                                     "image_scale": 0}})
