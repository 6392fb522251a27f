"""`chunk_size: auto`, `memory_budget_mb`, workers, and `flows.memory_report`: plans with injected figures,
and real conversions measured in fresh processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.config import ConvertConfig, load_config
from dataprep.conversion import convert_dataset, plan_conversion
from dataprep.conversion.memory_figures import BagFigures, CameraFigure, read_bag_figures
from dataprep.conversion.memory_plan import CHUNK_LADDER, ConversionMemoryError, plan_bag_conversion
from dataprep.conversion.memory_sweep import measure_conversion
from dataprep.conversion.staging import staging_root
from dataprep.errors import DataprepError
from dataprep.lerobot.row_buffer import ROW_GROUP_BYTES
from dataprep.memory import MB, Coefficients, SystemMemory, load_coefficients
from dataprep.memory.coefficients import EncoderCoefficients
from dataprep.memory.estimators import CameraShape
from dataprep.sample import KuavoBagSpec, write_kuavo_bag
from flows import memory_report

PROJECT = Path(__file__).resolve().parents[1]
COEFFICIENTS = Coefficients(process_base_mb=200, encoders={"h264": EncoderCoefficients(2, 100)},
                            image_row_ratio=2.0, reader_base_mb=50)
# two 640x480 cameras: 0.3072 MP each; PNGs of 300 KB; 100 bytes of vectors per frame
FIGURES = BagFigures({"a": CameraFigure(CameraShape(480, 640), 300_000),
                      "b": CameraFigure(CameraShape(480, 640), 300_000)}, 100, "injected")
GROUP_ROWS = -(-ROW_GROUP_BYTES // 600_000)  # rows image mode holds at most with these PNGs


def machine(available_mb: float) -> SystemMemory:
    return SystemMemory.of(64 * 1024 * MB, int(available_mb * MB))


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kuavo_bag(tmp_path_factory.mktemp("memory") / "kuavo.bag",
                           KuavoBagSpec(duration_s=5.0, width=320, height=240))


def kuavo(bag: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs" / "kuavo.yaml",
                       [f"input.bags={bag}", f"output_root={out}", "repo_id=test/memory", "task=t", *overrides])


def config_for(tmp_path: Path, *overrides: str) -> ConvertConfig:
    return kuavo(tmp_path / "none.bag", tmp_path / "out", "video.codec=h264", *overrides)


def test_video_estimate_is_base_plus_one_encoder_per_camera(tmp_path: Path) -> None:
    plan = plan_bag_conversion(config_for(tmp_path, "chunk_size=300"), [], system=machine(10_000),
                               coefficients=COEFFICIENTS, figures=FIGURES)
    encoder = (2 + 100 * 0.3072) * MB
    assert plan.need_bytes == pytest.approx(200 * MB + 2 * encoder + 300 * 100, abs=2)
    assert (plan.chunk_size, plan.workers) == (300, 1)
    assert "chunk_size 300 (as configured)" in plan.reasoning


def test_image_mode_buffers_rows_up_to_the_row_group_bound_and_auto_takes_the_largest_rung_that_fits(
        tmp_path: Path) -> None:
    config = config_for(tmp_path, "chunk_size=auto", "camera_storage=image")
    frame = 2 * 300_000 * 2.0 + 100  # bytes per buffered frame: PNGs x ratio + vectors
    assert GROUP_ROWS == 56  # 600 KB of PNGs a frame: a row group ends at 32 MB, whatever the chunk
    for available, chunk, rows in ((200 + GROUP_ROWS * frame / MB, 1000, GROUP_ROWS), (240, 30, 30)):
        plan = plan_bag_conversion(config, [], system=machine(available), coefficients=COEFFICIENTS, figures=FIGURES)
        assert (plan.chunk_size, plan.estimate.buffered_rows) == (chunk, rows)
        assert plan.need_bytes == pytest.approx(200 * MB + rows * frame, abs=2)
        assert "auto: the largest that fits" in plan.reasoning


def test_budget_caps_the_plan_but_never_beyond_available(tmp_path: Path) -> None:
    config = config_for(tmp_path, "chunk_size=auto", "camera_storage=image", "memory_budget_mb=250")
    plan = plan_bag_conversion(config, [], system=machine(100_000), coefficients=COEFFICIENTS, figures=FIGURES)
    assert (plan.allowance_bytes, plan.chunk_size) == (250 * MB, 30)  # 56 buffered rows x 1.2 MB would pass it
    assert "memory_budget_mb 250" in plan.reasoning
    plan = plan_bag_conversion(config, [], system=machine(240), coefficients=COEFFICIENTS, figures=FIGURES)
    assert plan.allowance_bytes == 240 * MB
    assert "more than the available 240 MB" in plan.reasoning


def test_auto_workers_add_processes_while_chunks_of_100_still_fit(tmp_path: Path) -> None:
    config = config_for(tmp_path, "chunk_size=auto", "camera_storage=image")
    per_worker = 200 * MB + GROUP_ROWS * (2 * 300_000 * 2.0 + 100)
    plan = plan_bag_conversion(config, [Path("a")] * 8, workers="auto", cpus=8, system=machine(3 * per_worker / MB),
                               coefficients=COEFFICIENTS, figures=FIGURES)
    assert (plan.workers, plan.chunk_size) == (3, 1000)
    few_bags = plan_bag_conversion(config, [Path("a")] * 2, workers="auto", cpus=8, system=machine(100_000),
                                   coefficients=COEFFICIENTS, figures=FIGURES)
    assert (few_bags.workers, few_bags.chunk_size) == (2, 1000)  # never more workers than bags
    tight = plan_bag_conversion(config, [Path("a")] * 8, workers="auto", cpus=8, system=machine(220),
                                coefficients=COEFFICIENTS, figures=FIGURES)
    assert (tight.workers, tight.chunk_size) == (1, 10)


@pytest.mark.parametrize(("overrides", "available", "names"), [
    (("chunk_size=300", "camera_storage=image"), 250, "lower chunk_size \\(now 300\\) or set chunk_size: auto"),
    (("chunk_size=auto", "memory_budget_mb=150"), 10_000, "raise memory_budget_mb"),
    (("chunk_size=auto",), 0, "may use 0 MB \\(available memory 0 MB\\)"),
])
def test_a_plan_that_cannot_fit_names_the_setting_to_change(tmp_path: Path, overrides: tuple[str, ...],
                                                            available: int, names: str) -> None:
    with pytest.raises(ConversionMemoryError, match=names):
        plan_bag_conversion(config_for(tmp_path, *overrides), [], system=machine(available),
                            coefficients=COEFFICIENTS, figures=FIGURES)


def test_a_video_run_that_cannot_fit_suggests_what_helps_in_video_mode(tmp_path: Path) -> None:
    config = kuavo(tmp_path / "none.bag", tmp_path, "chunk_size=300", "memory_budget_mb=300")
    with pytest.raises(ConversionMemoryError, match=r"set video\.codec: h264") as caught:
        plan_bag_conversion(config, [], system=machine(10_000), coefficients=load_coefficients(), figures=FIGURES)
    assert "chunk_size" not in str(caught.value)  # rows are vectors only in video mode: a smaller chunk saves nothing


def test_two_fixed_workers_that_do_not_fit_name_max_workers(tmp_path: Path) -> None:
    with pytest.raises(ConversionMemoryError, match="lower max_workers \\(now 2\\)"):
        plan_bag_conversion(config_for(tmp_path), [], workers=2, system=machine(400), coefficients=COEFFICIENTS,
                            figures=FIGURES)


def test_frame_sizes_come_from_the_first_image_of_each_camera_or_its_resize(bag: Path, tmp_path: Path) -> None:
    figures = read_bag_figures(kuavo(bag, tmp_path, "camera_storage=image"), [bag])
    assert {name: (f.shape.height, f.shape.width, f.shape.channels) for name, f in figures.cameras.items()} == {
        "head_cam_h": (240, 320, 3), "wrist_cam_l": (240, 320, 3), "wrist_cam_r": (240, 320, 3)}
    assert all(0 < f.png_bytes < f.shape.nbytes for f in figures.cameras.values())
    resized = kuavo(tmp_path / "absent.bag", tmp_path, "cameras.head_cam_h.resize=[120,160]",
                    "cameras.wrist_cam_l.resize=[120,160]", "cameras.wrist_cam_r.resize=[120,160]")
    figures = read_bag_figures(resized, [tmp_path / "absent.bag"])  # video + resize: no bag is opened
    assert figures.source == "the cameras' resize settings"
    assert {f.shape.height for f in figures.cameras.values()} == {120}


def test_auto_chunk_with_a_low_budget_stays_under_it_measured(bag: Path, tmp_path: Path) -> None:
    budget_mb = round(load_coefficients().process_base_mb) + 60
    config = kuavo(bag, tmp_path / "out", "chunk_size=auto", f"memory_budget_mb={budget_mb}",
                   "camera_storage=image")
    plan = plan_bag_conversion(config, [bag])
    assert plan.chunk_size < CHUNK_LADDER[0]  # the budget decided
    measured = measure_conversion([config], bag)  # a fresh process resolves auto itself and converts
    assert measured.frames > 0
    assert measured.peak < budget_mb * MB, f"peak {measured.peak / MB:.0f} MB, budget {budget_mb} MB"


def test_an_impossible_budget_fails_before_converting_naming_the_setting(bag: Path, tmp_path: Path) -> None:
    config = kuavo(bag, tmp_path / "out", "memory_budget_mb=50")
    with pytest.raises(ConversionMemoryError, match=r"needs at least \d+ MB .* may use 50 MB .*memory_budget_mb"):
        convert_dataset(config)
    assert not staging_root(config).exists()
    assert not config.dataset_root.exists()


def test_plan_conversion_hands_the_resolved_chunk_size_to_the_conversion(bag: Path, tmp_path: Path) -> None:
    config = kuavo(bag, tmp_path / "out", "chunk_size=auto", "video.codec=h264")
    plan = plan_conversion(config)
    assert plan.config.chunk_size == plan.memory.chunk_size == CHUNK_LADDER[0]
    chunks: list = []
    report = convert_dataset(config, on_chunk=chunks.append)
    assert report.dataset.frames == chunks[-1].frames and len(chunks) == 1  # one chunk of up to 1000 frames


def write_pipeline(tmp_path: Path, bag: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    section = {"extends": str(PROJECT / "configs" / "kuavo.yaml"), "input": {"bags": str(bag)},
               "output_root": str(tmp_path / "out"), "repo_id": "test/report", "task": "t", "video": {"codec": "h264"}}
    hdf5 = {"sources": [{"kind": "replay", "paths": [str(tmp_path / "missing.h5")]}]}
    path.write_text(json.dumps({"rosbag_to_lerobot": section, "hdf5_index": hdf5}))
    return path


def test_memory_report_prints_a_row_per_stage_and_names_what_it_cannot_plan(
        bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert memory_report.main(["--config", str(write_pipeline(tmp_path, bag)), "--local"]) == 0
    out = capsys.readouterr().out
    assert "| stage | need_mb | available_mb | strategy | chunk_size | workers | settings |" in out
    (bags,) = [line for line in out.splitlines() if line.startswith("| rosbag_to_lerobot |")]
    assert "| stream, chunks of 300 | 300 | 1 |" in bags
    assert "missing.h5 does not exist" in out  # the HDF5 row says why it has no plan
    assert "gpu      none" in out


def test_memory_report_sweep_measures_each_chunk_size_beside_its_estimate(
        bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--config", str(write_pipeline(tmp_path, bag)), "--local", "--sweep", "chunk_size=10,50", "--bag", str(bag)]
    assert memory_report.main(argv) == 0
    out = capsys.readouterr().out.split("chunk-size sweep")[1]
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ") and "chunk_size" not in line]
    assert [int(r[0]) for r in rows] == [10, 50]
    for _, estimate, peak, _error, seconds, frames in rows:
        assert int(estimate) > 100 and int(peak) > 100 and float(seconds) > 0 and int(frames) > 0


def test_memory_report_names_a_bad_sweep(bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_pipeline(tmp_path, bag))
    assert memory_report.main(["--config", config, "--local", "--sweep", "workers=1,2", "--bag", str(bag)]) == 2
    assert "--sweep 'workers=1,2': give chunk_size=N,N,..." in capsys.readouterr().err
    assert memory_report.main(["--config", config, "--local", "--sweep", "chunk_size=10"]) == 2
    assert "--sweep needs --bag PATH" in capsys.readouterr().err
    missing = tmp_path / "absent.bag"
    assert memory_report.main(["--config", config, "--local", "--sweep", "chunk_size=10", "--bag", str(missing)]) == 2
    err = capsys.readouterr().err  # the bag's own error, in one line: no traceback, no configuration dump
    assert f"error: measured process failed (exit 1): bag {missing} does not exist" in err and "Traceback" not in err


def test_memory_report_under_prefect_records_the_plan_as_an_artifact(
        prefect_server: None, bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.artifacts import artifact_key

    path = write_pipeline(tmp_path, bag)
    assert memory_report.main(["--config", str(path), "--sweep", "chunk_size=50", "--bag", str(bag)]) == 0
    assert "| rosbag_to_lerobot |" in capsys.readouterr().out
    keys = [artifact_key("memory-plan", path.resolve()), artifact_key("memory-sweep", bag.resolve())]
    with get_client(sync_client=True) as client:
        plan, sweep = (client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
                       for key in keys)
    assert "| rosbag_to_lerobot |" in str(plan[0].data) and "hdf5_index" in str(plan[0].data)
    assert "| chunk_size | estimate_mb | peak_rss_mb |" in str(sweep[0].data) and "| 50 |" in str(sweep[0].data)


@pytest.mark.parametrize("value", ["0", "big", "-3"])
def test_chunk_size_is_a_positive_number_of_frames_or_auto(tmp_path: Path, value: str) -> None:
    from dataprep.config import ConfigError

    with pytest.raises(ConfigError, match=r"chunk_size: .* is not a number of frames >= 1 or 'auto'"):
        config_for(tmp_path, f"chunk_size={value}")
    assert config_for(tmp_path, "chunk_size=auto").chunk_size == "auto"
    with pytest.raises(DataprepError, match="chunk_size is still 'auto'; plan_conversion resolves it"):
        _ = config_for(tmp_path, "chunk_size=auto").chunk_frames
