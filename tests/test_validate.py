"""The validator passes clean datasets (ours and lerobot's own) and names every fault it must catch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from golden import frames
from golden.write_ours import write
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from dataprep.lerobot import PackLimits
from dataprep.validate import Finding, validate_dataset
from flows.validate_dataset import main, validate_dataset_flow
from tasks.artifacts import artifact_key

GOLDEN = Path(__file__).resolve().parent / "golden"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
VIDEO_0 = f"videos/{frames.CAMERA}/chunk-000/file-000.mp4"


# limits no episode fits in with another: one file per episode, so a test can break one episode's file
ONE_PER_FILE = PackLimits(data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our dataset of the golden frames (one file per episode), written once."""
    return write(tmp_path_factory.mktemp("validate"), "video", ONE_PER_FILE)


@pytest.fixture
def dataset(clean: Path, tmp_path: Path) -> Path:
    """A private copy a test may break."""
    return Path(shutil.copytree(clean, tmp_path / "dataset"))


def only(findings: tuple[Finding, ...], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def rewrite_episodes(root: Path, column: str, episode: int, value: object) -> None:
    table = pq.read_table(root / EPISODES)
    values = table[column].to_pylist()
    values[episode] = value
    index = table.column_names.index(column)
    pq.write_table(
        table.set_column(index, column, pa.array(values, table.schema.field(column).type)), root / EPISODES
    )


@pytest.mark.parametrize("name", ["ours-video", "ours-image", "lerobot-video", "lerobot-image"])
def test_clean_datasets_pass_ours_and_lerobots(clean: Path, tmp_path: Path, name: str) -> None:
    writer, mode = name.split("-")
    root = (clean if mode == "video" else write(tmp_path, "image")) if writer == "ours" else GOLDEN / mode

    report = validate_dataset(root, decode_all=True)

    assert report.ok, report.table()
    assert (report.episodes, report.frames) == (2, 21)
    assert report.videos == (0 if mode == "image" else 2 if writer == "ours" else 1)


def test_removed_video_is_named(dataset: Path) -> None:
    (dataset / VIDEO_0).unlink()

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.file, finding.episode, finding.feature) == (
        "video.files",
        VIDEO_0,
        0,
        frames.CAMERA,
    )
    assert "missing" in finding.message


def test_mp4_without_a_readable_header_is_named(dataset: Path) -> None:
    (dataset / VIDEO_0).write_bytes((dataset / VIDEO_0).read_bytes()[:64])

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.file, finding.episode) == ("video.files", VIDEO_0, 0)
    assert finding.message.startswith("not a readable mp4")


def test_truncated_parquet_is_named(dataset: Path) -> None:
    path = dataset / "data/chunk-000/file-001.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    findings = validate_dataset(dataset).findings

    [finding] = only(findings, "data.files")
    assert finding.file == "data/chunk-000/file-001.parquet" and finding.episode == 1
    assert "truncated" in finding.message


def test_info_total_off_by_one_is_named(dataset: Path) -> None:
    info = json.loads((dataset / "meta/info.json").read_text())
    info["total_frames"] += 1
    (dataset / "meta/info.json").write_text(json.dumps(info))

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.file) == ("info.totals", "meta/info.json")
    assert finding.message == "total_frames is 22 but 21 on disk"


def test_video_span_past_its_file_is_named(dataset: Path) -> None:
    rewrite_episodes(dataset, f"videos/{frames.CAMERA}/to_timestamp", 1, 5.0)  # the file holds 0.9 s

    findings = validate_dataset(dataset).findings

    [span] = only(findings, "video.span")
    assert (span.file, span.episode, span.feature) == (
        "videos/observation.images.front/chunk-000/file-001.mp4",
        1,
        frames.CAMERA,
    )
    assert "ends past the file, which holds 0.9000 s" in span.message


def test_video_span_with_too_few_frames_is_named(dataset: Path) -> None:
    rewrite_episodes(dataset, f"videos/{frames.CAMERA}/from_timestamp", 0, 0.5)

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.episode) == ("video.frames", 0)
    assert "holds 7 frames, the episode has 12" in finding.message


def test_nan_in_stats_is_named(dataset: Path) -> None:
    stats = json.loads((dataset / "meta/stats.json").read_text())
    stats["action"]["mean"][1] = float("nan")
    (dataset / "meta/stats.json").write_text(json.dumps(stats))  # json writes NaN, as numpy's tolist would

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.file, finding.feature) == ("stats.finite", "meta/stats.json", "action")
    assert "mean holds NaN" in finding.message


def test_stats_are_read_into_typed_feature_stats_keeping_the_shapes_found(clean: Path) -> None:
    from dataprep.lerobot.stats import FeatureStats
    from dataprep.validate.meta import load_meta

    found: list[Finding] = []
    meta = load_meta(clean, found)

    assert meta is not None and meta.stats is not None and found == []
    action = meta.stats["action"]
    assert isinstance(action, FeatureStats) and action.mean.shape == (2,) and action.count.shape == (1,)
    camera = meta.episodes[0].stats[frames.CAMERA]  # type: ignore[index]
    assert isinstance(camera, FeatureStats) and camera.std.shape == (3, 1, 1)
    assert int(meta.episodes[1].stats["action"].count[0]) == frames.EPISODES[1][0]  # type: ignore[index,union-attr]


def test_a_stat_lacking_null_or_not_numeric_is_named_per_feature(dataset: Path) -> None:
    stats = json.loads((dataset / "meta/stats.json").read_text())
    del stats["action"]["q01"]
    stats["action"]["q99"] = None
    stats["observation.state"]["std"] = ["wide", "narrow", "flat"]
    (dataset / "meta/stats.json").write_text(json.dumps(stats))
    rewrite_episodes(dataset, "stats/observation.state/count", 1, [0])

    findings = only(validate_dataset(dataset).findings, "stats.shape")

    assert [(f.file, f.episode, f.feature, f.message) for f in findings] == [
        ("meta/stats.json", None, "observation.state", "std is not numeric: ['wide', 'narrow', 'flat']"),
        ("meta/stats.json", None, "action", "lacks ['q01', 'q99']"),
        (EPISODES, 1, "observation.state", "count must be a positive integer, is [0.0]"),
    ]


def test_missing_task_is_named(dataset: Path) -> None:
    tasks = pq.read_table(dataset / "meta/tasks.parquet")
    pq.write_table(tasks.slice(0, 1), dataset / "meta/tasks.parquet")

    findings = validate_dataset(dataset).findings

    assert {(f.check, f.file, f.episode) for f in findings} == {
        ("tasks.referenced", EPISODES, 1),  # the episode names "place the cube"
        ("tasks.referenced", "data/chunk-000/file-001.parquet", 1),  # its rows carry task_index 1
        ("info.totals", "meta/info.json", None),  # total_tasks 2, one on disk
    }
    assert any("'place the cube' is not in meta/tasks.parquet" in f.message for f in findings)


def test_broken_frame_index_and_timestamps_are_named(dataset: Path) -> None:
    path = dataset / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    shifted = pa.array(
        [t + (0.05 if i == 3 else 0.0) for i, t in enumerate(table["timestamp"].to_pylist())], pa.float32()
    )
    pq.write_table(
        table.set_column(table.column_names.index("timestamp"), table.schema.field("timestamp"), shifted),
        path,
    )

    [finding] = validate_dataset(dataset).findings

    assert (finding.check, finding.episode, finding.feature) == ("data.timestamp", 0, "timestamp")
    assert "frame 3 is 0.050000 s off" in finding.message


def test_cli_prints_a_table_or_json_and_exits_0_or_1(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(dataset)]) == 0
    assert capsys.readouterr().out.strip().endswith("19 checks: OK")

    (dataset / VIDEO_0).unlink()
    assert main([str(dataset), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["findings"][0]["check"] == "video.files"
    assert main([str(dataset)]) == 1
    table = capsys.readouterr().out
    assert f"video.files  {VIDEO_0}  0        {frames.CAMERA}  missing" in table


def test_flow_records_the_validation_as_an_artifact(prefect_server: None, dataset: Path) -> None:
    report = validate_dataset_flow(str(dataset))

    assert report.ok
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[artifact_key("validation", dataset.resolve())])
            )
        )
    text = str(artifact.data)
    assert text.startswith(f"# Validation of `{dataset}`") and "**OK**: 2 episode(s), 21 frames" in text


def test_a_malformed_row_no_check_foresaw_is_reported_not_raised(dataset: Path) -> None:
    rewrite_episodes(dataset, f"videos/{frames.CAMERA}/from_timestamp", 1, None)

    findings = validate_dataset(dataset).findings

    [finding] = only(findings, "video.files")
    assert finding.message.startswith("could not run on this dataset: TypeError")


def test_episodes_without_the_optional_tasks_and_stats_columns_are_one_warning_and_still_counted(
    tmp_path: Path,
) -> None:
    """As lerobot 0.6.1's convert_image_to_video writes them; lerobot loads and iterates such a dataset."""
    root = tmp_path / "video"
    shutil.copytree(Path(__file__).parent / "golden/video", root)
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.select([n for n in table.column_names if n != "tasks" and not n.startswith("stats/")]), path)
    stats = json.loads((root / "meta/stats.json").read_text())
    del stats["observation.images.front"]  # its stats.json leaves the converted camera out too
    (root / "meta/stats.json").write_text(json.dumps(stats))
    report = validate_dataset(root, decode_all=True)
    assert report.ok and report.episodes == 2, report.table()
    assert len(report.warnings) == 2 and "tasks, stats/*" in report.warnings[0].message
    assert report.warnings[1].feature == "observation.images.front"
    assert report.table().endswith("OK, 2 warning(s)")
