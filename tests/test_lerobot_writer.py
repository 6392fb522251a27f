"""EpisodeWriter + finalize_dataset: synthetic episodes written, assembled, and read back as LeRobot v3.0."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import datasets
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.errors import DataprepError
from dataprep.lerobot.episode_quality import ChannelQuality, EpisodeQuality, TopicQuality
from dataprep.lerobot.episode_writer import EpisodeWriter, StagedEpisode
from dataprep.lerobot.finalize import Commit, DatasetSummary, finalize_dataset
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature, dataset_hf_features
from dataprep.lerobot.video import VideoSettings, psnr, read_video_frames

FPS = 10
LENGTHS = (23, 40, 7)
TASKS = ("pick the cube", "place the cube", "pick the cube")
CAMERAS = ("observation.images.front", "observation.images.wrist")
H, W = 48, 64
STAT_NAMES = ["min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"]
DEFAULTS = ["timestamp", "frame_index", "episode_index", "index", "task_index"]


def make_schema(storage: str = "video", codec: str = "libsvtav1", gripper: bool = False) -> DatasetSchema:
    vectors = [
        VectorFeature("observation.state", 2, names=("x", "y")),
        VectorFeature("action", 16),
    ]
    if gripper:
        vectors.append(VectorFeature("observation.gripper", 1, dtype="int64"))
    return DatasetSchema(
        fps=FPS,
        robot_type="test_bot",
        vectors=tuple(vectors),
        cameras=tuple(CameraFeature(key) for key in CAMERAS),
        camera_storage=storage,  # type: ignore[arg-type]
        video=VideoSettings(codec=codec),  # type: ignore[arg-type]
    )


def vectors_of(episode: int, frame: int, gripper: bool = False) -> dict[str, np.ndarray]:
    t = frame / FPS
    out = {
        "observation.state": np.array([np.sin(t + episode), episode + 0.5 * frame], dtype=np.float32),
        "action": (np.arange(16, dtype=np.float32) * 0.1 + np.cos(3 * t + episode)).astype(np.float32),
    }
    if gripper:
        out["observation.gripper"] = np.array([frame % 3], dtype=np.int64)
    return out


def image_of(episode: int, frame: int, camera: int) -> np.ndarray:
    """Smooth moving gradients: compress well, so PSNR measures the codec and not the test pattern."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 128 + 100 * np.sin((xx + 2 * frame) / 11.0 + camera)
    g = 128 + 100 * np.cos((yy + frame) / 9.0 + episode)
    b = 64 + 2 * (xx + yy) / 2 + 10 * camera
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def quality_of(episode: int, length: int) -> EpisodeQuality:
    """A measured quality as the conversion records it: one topic, one channel, `episode` dropped ticks."""
    return EpisodeQuality(length, length + episode, {"no message": episode} if episode else {},
                          {"/cam": TopicQuality(length, 30.0, 0.034, 0.05, 1.5, None)},
                          {CAMERAS[0]: ChannelQuality(1.0, 2.0, 5.0, 0)}, 0.9, ("dropped ticks",), (),
                          ((1, "no message", episode),) if episode else ())


def write_episode(
    folder: Path, schema: DatasetSchema, episode: int, length: int, task: str, gripper: bool = False
) -> StagedEpisode:
    with EpisodeWriter(folder, schema, task, f"bag_{episode}.bag", chunk_size=10) as writer:
        for i in range(length):
            images = {key: image_of(episode, i, c) for c, key in enumerate(CAMERAS)}
            writer.add_frame(vectors_of(episode, i, gripper), images)
        assert writer.frames == length
        return writer.close(quality=quality_of(episode, length))


def build(
    tmp: Path,
    schema: DatasetSchema,
    lengths: Sequence[int] = LENGTHS,
    tasks: Sequence[str] = TASKS,
    gripper: bool = False,
) -> tuple[list[StagedEpisode], DatasetSummary]:
    staged = [
        write_episode(tmp / "staging" / f"ep{e}", schema, e, n, task, gripper)
        for e, (n, task) in enumerate(zip(lengths, tasks, strict=True))
    ]
    return staged, finalize_dataset(staged, tmp / "dataset", "local/test", schema)


@pytest.fixture(scope="module")
def av1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[StagedEpisode], DatasetSummary]:
    tmp = tmp_path_factory.mktemp("av1")
    staged, summary = build(tmp, make_schema())
    return tmp / "dataset", staged, summary


def data_files(root: Path) -> list[Path]:
    return sorted((root / "data").rglob("*.parquet"))


def all_vectors(key: str) -> np.ndarray:
    return np.stack([vectors_of(e, i)[key] for e, n in enumerate(LENGTHS) for i in range(n)])


# -- layout and info.json ------------------------------------------------------------------------------


def test_finalize_packs_small_episodes_into_one_data_file_and_one_video_per_camera(
    av1: tuple[Path, list[StagedEpisode], DatasetSummary],
) -> None:
    root, _, summary = av1
    assert data_files(root) == [root / "data/chunk-000/file-000.parquet"]
    for key in CAMERAS:
        assert sorted((root / "videos" / key).rglob("*.mp4")) == [root / f"videos/{key}/chunk-000/file-000.mp4"]
    for name in (
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
    ):
        assert (root / name).is_file()
    assert not (root.parent / ".dataset.tmp").exists()
    assert summary == DatasetSummary(
        root, "local/test", 3, sum(LENGTHS), FPS,
        ("observation.state", "action", *CAMERAS, *DEFAULTS), ("pick the cube", "place the cube"),
    )  # fmt: skip


def test_info_json_has_exactly_the_v30_fields(av1: tuple[Path, list[StagedEpisode], DatasetSummary]) -> None:
    root, _, _ = av1
    info = json.loads((root / "meta/info.json").read_text())
    assert set(info) == {
        "codebase_version", "fps", "robot_type", "total_episodes", "total_frames", "total_tasks",
        "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "data_path", "video_path",
        "splits", "features",
    }  # fmt: skip
    assert info["codebase_version"] == "v3.0"
    assert (info["fps"], info["robot_type"]) == (FPS, "test_bot")
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 70, 2)
    assert (info["chunks_size"], info["data_files_size_in_mb"], info["video_files_size_in_mb"]) == (
        1000,
        100,
        200,
    )
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert info["splits"] == {"train": "0:3"}
    features = info["features"]
    assert list(features) == ["observation.state", "action", *CAMERAS, *DEFAULTS]
    assert features["observation.state"] == {"dtype": "float32", "shape": [2], "names": ["x", "y"]}
    assert features["action"] == {"dtype": "float32", "shape": [16], "names": None}
    cam = features[CAMERAS[0]]
    assert (cam["dtype"], cam["shape"], cam["names"]) == ("video", [H, W, 3], ["height", "width", "channels"])
    assert cam["info"]["video.codec"] == "av1"
    assert (cam["info"]["video.height"], cam["info"]["video.width"], cam["info"]["video.fps"]) == (H, W, FPS)
    assert cam["info"]["has_audio"] is False
    assert features["timestamp"] == {"dtype": "float32", "shape": [1], "names": None}
    for key in DEFAULTS[1:]:
        assert features[key] == {"dtype": "int64", "shape": [1], "names": None}


# -- data parquet ---------------------------------------------------------------------------------------


def test_data_parquet_columns_types_and_indices(
    av1: tuple[Path, list[StagedEpisode], DatasetSummary],
) -> None:
    root, _, _ = av1
    (path,) = data_files(root)
    table = pq.read_table(path)
    assert table.column_names == ["observation.state", "action", *DEFAULTS]
    assert table.schema.field("observation.state").type == pa.list_(pa.float32(), 2)
    assert table.schema.field("action").type == pa.list_(pa.float32(), 16)
    assert table.schema.field("timestamp").type == pa.float32()
    assert all(table.schema.field(k).type == pa.int64() for k in DEFAULTS[1:])
    assert b"huggingface" in table.schema.metadata
    # appended row group by row group: each episode's staged groups of 10, never merged in memory
    assert pq.ParquetFile(path).num_row_groups == sum(-(-n // 10) for n in LENGTHS)
    frame_index = table["frame_index"].to_numpy()
    np.testing.assert_array_equal(frame_index, np.concatenate([np.arange(n) for n in LENGTHS]))
    np.testing.assert_array_equal(table["timestamp"].to_numpy(), (frame_index / FPS).astype(np.float32))
    np.testing.assert_array_equal(table["index"].to_numpy(), np.arange(sum(LENGTHS)))
    np.testing.assert_array_equal(table["episode_index"].to_numpy(), np.repeat([0, 1, 2], LENGTHS))
    np.testing.assert_array_equal(table["task_index"].to_numpy(), np.repeat([0, 1, 0], LENGTHS))
    for key in ("observation.state", "action"):
        np.testing.assert_array_equal(np.stack(table[key].to_numpy(zero_copy_only=False)), all_vectors(key))


def test_data_loads_with_hf_datasets(
    av1: tuple[Path, list[StagedEpisode], DatasetSummary], tmp_path: Path
) -> None:
    root, _, _ = av1
    expected = dataset_hf_features(make_schema())
    files = [str(p) for p in data_files(root)]
    ds = datasets.Dataset.from_parquet(files, cache_dir=str(tmp_path / "cache"))
    assert ds.features == expected
    assert len(ds) == sum(LENGTHS)
    assert ds[23]["episode_index"] == 1 and ds[23]["frame_index"] == 0
    loaded = datasets.load_dataset(
        "parquet", data_files=files, split="train", cache_dir=str(tmp_path / "cache2")
    )
    assert loaded.features == expected
    assert loaded[69]["index"] == 69


# -- videos ---------------------------------------------------------------------------------------------


def check_videos(root: Path) -> None:
    """Each episode's span of its shared file decodes to that episode's frames."""
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for c, key in enumerate(CAMERAS):
        shared = list(read_video_frames(root / f"videos/{key}/chunk-000/file-000.mp4"))
        assert len(shared) == sum(LENGTHS)
        for e, n in enumerate(LENGTHS):
            first = round(rows[e][f"videos/{key}/from_timestamp"] * FPS)
            frames = shared[first:first + n]
            assert len(frames) == n
            worst = min(psnr(frame, image_of(e, i, c)) for i, frame in enumerate(frames))
            assert worst > 30.0, f"{key} episode {e}: PSNR {worst:.1f} dB"


def test_av1_videos_decode_to_the_written_frames(
    av1: tuple[Path, list[StagedEpisode], DatasetSummary],
) -> None:
    check_videos(av1[0])


def test_h264_videos_decode_to_the_written_frames(tmp_path: Path) -> None:
    _, summary = build(tmp_path, make_schema(codec="h264"))
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert info["features"][CAMERAS[1]]["info"]["video.codec"] == "h264"
    check_videos(summary.root)


# -- stats ----------------------------------------------------------------------------------------------


def check_stats(got: dict[str, list[float]], values: np.ndarray) -> None:
    """min/max/mean/std exact; quantiles within a few histogram bins of numpy's."""
    for name, fn in (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std)):
        np.testing.assert_allclose(got[name], fn(values, axis=0), rtol=0, atol=1e-6, err_msg=name)
    assert got["count"] == [len(values)]


def test_stats_json_matches_numpy(av1: tuple[Path, list[StagedEpisode], DatasetSummary]) -> None:
    root, _, _ = av1
    stats = json.loads((root / "meta/stats.json").read_text())
    assert list(stats) == ["observation.state", "action", *CAMERAS, *DEFAULTS]
    table = pa.concat_tables([pq.read_table(p) for p in data_files(root)])
    bounds = np.cumsum((0, *LENGTHS))
    for key in ("observation.state", "action", *DEFAULTS):
        values = np.asarray(table[key].to_numpy(zero_copy_only=False).tolist(), dtype=np.float64)
        values = values.reshape(len(values), -1)
        check_stats(stats[key], values)
        # dataset quantiles are count-weighted averages of the episodes' (as in lerobot)
        for name, q in (("q01", 0.01), ("q10", 0.10), ("q50", 0.50), ("q90", 0.90), ("q99", 0.99)):
            per_episode = [np.quantile(values[a:b], q, axis=0) for a, b in itertools.pairwise(bounds)]
            expected = np.average(per_episode, axis=0, weights=LENGTHS)
            span = values.max(axis=0) - values.min(axis=0)
            np.testing.assert_allclose(
                stats[key][name], expected, rtol=0, atol=float(span.max()) * 2e-3 + 1e-6
            )
    for key in CAMERAS:
        mean = np.asarray(stats[key]["mean"])
        assert mean.shape == (3, 1, 1)
        assert np.asarray(stats[key]["min"]).min() >= 0.0 and np.asarray(stats[key]["max"]).max() <= 1.0
        every_frame = np.stack(
            [image_of(e, i, CAMERAS.index(key)) for e, n in enumerate(LENGTHS) for i in range(n)]
        )
        np.testing.assert_allclose(mean.reshape(3), every_frame.mean(axis=(0, 1, 2)) / 255, atol=0.03)


# -- meta/episodes and meta/tasks -----------------------------------------------------------------------


def test_episodes_parquet_has_every_lerobot_column(
    av1: tuple[Path, list[StagedEpisode], DatasetSummary],
) -> None:
    root, _, _ = av1
    table = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    video_columns = [
        f"videos/{k}/{c}"
        for k in CAMERAS
        for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
    ]
    stat_columns = [
        f"stats/{f}/{s}" for f in ("observation.state", "action", *DEFAULTS, *CAMERAS) for s in STAT_NAMES
    ]  # video statistics last, as lerobot's streaming encoder adds them
    assert table.column_names == [
        "episode_index", "tasks", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
        "dataset_to_index", *video_columns, *stat_columns,
        "meta/episodes/chunk_index", "meta/episodes/file_index",
    ]  # fmt: skip
    schema = table.schema
    assert schema.field("tasks").type == pa.list_(pa.string())
    assert schema.field(f"videos/{CAMERAS[0]}/to_timestamp").type == pa.float64()
    assert schema.field("stats/action/mean").type == pa.list_(pa.float64())
    assert schema.field("stats/action/count").type == pa.list_(pa.int64())
    assert schema.field(f"stats/{CAMERAS[0]}/mean").type == pa.list_(pa.list_(pa.list_(pa.float64())))
    rows = table.to_pylist()
    assert [r["episode_index"] for r in rows] == [0, 1, 2]
    assert [r["tasks"] for r in rows] == [[t] for t in TASKS]
    assert [r["length"] for r in rows] == list(LENGTHS)
    assert [r["data/file_index"] for r in rows] == [0, 0, 0]
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in rows] == [(0, 23), (23, 63), (63, 70)]
    assert [r[f"videos/{CAMERAS[1]}/file_index"] for r in rows] == [0, 0, 0]
    starts = [r[f"videos/{CAMERAS[1]}/from_timestamp"] for r in rows]
    assert starts == pytest.approx([0.0, 2.3, 6.3], abs=1e-9)  # where each episode's first frame sits
    ends = [r[f"videos/{CAMERAS[1]}/to_timestamp"] for r in rows]
    assert ends == pytest.approx([s + n / FPS for s, n in zip(starts, LENGTHS)], abs=1e-9)
    assert rows[1]["stats/episode_index/min"] == [1.0] and rows[2]["stats/index/max"] == [69.0]
    assert rows[1]["stats/observation.state/count"] == [40]


def test_tasks_parquet_is_indexed_by_task_text(av1: tuple[Path, list[StagedEpisode], DatasetSummary]) -> None:
    tasks = pd.read_parquet(av1[0] / "meta/tasks.parquet")
    assert tasks.index.name == "task"
    assert list(tasks.index) == ["pick the cube", "place the cube"]
    assert tasks["task_index"].tolist() == [0, 1]


# -- image mode -----------------------------------------------------------------------------------------


def test_image_mode_stores_png_bytes_and_scalar_columns(tmp_path: Path) -> None:
    schema = make_schema(storage="image", gripper=True)
    staged, summary = build(tmp_path, schema, lengths=(12, 5), tasks=("a", "b"), gripper=True)
    root = summary.root
    assert not (root / "videos").exists() and staged[0].videos == {}
    info = json.loads((root / "meta/info.json").read_text())
    assert info["video_path"] is None
    assert info["features"][CAMERAS[0]]["dtype"] == "image"
    assert "info" not in info["features"][CAMERAS[0]]
    assert info["features"]["observation.gripper"] == {"dtype": "int64", "shape": [1], "names": None}
    table = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert table.column_names == ["observation.state", "action", "observation.gripper", *CAMERAS, *DEFAULTS]
    assert table.schema.field("observation.gripper").type == pa.int64()
    assert table.schema.field(CAMERAS[0]).type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    png = table[CAMERAS[1]][12 + 3].as_py()["bytes"]  # episode 1, frame 3
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, image_of(1, 3, 1))  # lossless
    ds = datasets.Dataset.from_parquet(
        str(root / "data/chunk-000/file-000.parquet"), cache_dir=str(tmp_path / "c")
    )
    assert ds.features == dataset_hf_features(schema)
    row = ds.select_columns([CAMERAS[0], "observation.gripper"])
    row = row.cast_column(CAMERAS[0], datasets.Image(decode=False))[12 + 4]  # Pillow is not a dependency
    assert row[CAMERAS[0]]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    assert row["observation.gripper"] == 4 % 3
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.asarray(stats[CAMERAS[0]]["mean"]).shape == (3, 1, 1)
    assert stats["observation.gripper"]["max"] == [2.0]


# -- replacing, failures and validation -----------------------------------------------------------------


def test_rerun_of_finalize_replaces_existing_root(tmp_path: Path) -> None:
    schema = make_schema(storage="image")
    build(tmp_path, schema, lengths=(5, 6, 7), tasks=("a", "b", "c"))
    staged = [write_episode(tmp_path / "again", schema, 9, 4, "z")]
    summary = finalize_dataset(staged, tmp_path / "dataset", "local/test", schema)
    info = json.loads((summary.root / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (1, 4, 1)
    assert sorted(p.name for p in (summary.root / "data/chunk-000").iterdir()) == ["file-000.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "dataset", "staging"]


def test_append_compares_typed_features_with_the_committed_info_json(tmp_path: Path) -> None:
    """Equal features (read back from info.json) append; a feature more is refused before anything is written."""
    schema = make_schema(storage="image")
    root = tmp_path / "dataset"
    finalize_dataset([write_episode(tmp_path / "a", schema, 0, 3, "t")], root, "local/test", schema)
    summary = finalize_dataset([write_episode(tmp_path / "b", schema, 1, 4, "t")], root, "local/test", schema,
                               commit=Commit(append=True))
    assert (summary.episodes, summary.frames) == (2, 7)
    before = (root / "meta/info.json").read_bytes()

    wider = make_schema(storage="image", gripper=True)
    staged = [write_episode(tmp_path / "c", wider, 2, 3, "t", gripper=True)]
    with pytest.raises(DataprepError, match=r"features differ from the dataset's \(info\.json\); set mode: rebuild"):
        finalize_dataset(staged, root, "local/test", wider, commit=Commit(append=True))
    assert (root / "meta/info.json").read_bytes() == before


def test_finalize_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    schema = make_schema(storage="image")
    staged = [write_episode(tmp_path / "ep", schema, 0, 3, "a")]
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(DataprepError, match="not a LeRobot dataset"):
        finalize_dataset(staged, tmp_path / "precious", "local/test", schema)
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_finalize_raises_without_episodes(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="no staged episodes"):
        finalize_dataset([], tmp_path / "dataset", "local/test", make_schema())


def test_finalize_rejects_episodes_with_different_camera_sizes(tmp_path: Path) -> None:
    schema = make_schema(storage="image")
    first = write_episode(tmp_path / "a", schema, 0, 3, "t")
    with EpisodeWriter(tmp_path / "b", schema, "t", "small.bag", chunk_size=10) as writer:
        for i in range(3):
            writer.add_frame(vectors_of(1, i), {key: np.zeros((24, 32, 3), np.uint8) for key in CAMERAS})
        second = writer.close()
    with pytest.raises(DataprepError, match=r"32x24 in small\.bag but 64x48 in bag_0\.bag"):
        finalize_dataset([first, second], tmp_path / "dataset", "local/test", schema)
    assert not (tmp_path / "dataset").exists() and not (tmp_path / ".dataset.tmp").exists()


def test_writer_that_raises_mid_episode_leaves_no_episode_json(tmp_path: Path) -> None:
    folder = tmp_path / "ep"
    with (
        pytest.raises(RuntimeError, match="bag read failed"),
        EpisodeWriter(folder, make_schema(), "t", "broken.bag", chunk_size=10) as writer,
    ):
        for i in range(15):
            writer.add_frame(vectors_of(0, i), {key: image_of(0, i, 0) for key in CAMERAS})
        raise RuntimeError("bag read failed")
    assert not (folder / "episode.json").exists()
    assert not folder.exists() or not any(folder.rglob("*"))
    with pytest.raises(DataprepError, match=r"episode\.json is missing"):
        StagedEpisode.load(folder)


def test_staged_episode_load_without_marker_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match=re.escape(str(tmp_path / "nothing_here"))):
        StagedEpisode.load(tmp_path / "nothing_here")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "episode.json").write_text("{not json")
    with pytest.raises(DataprepError, match="corrupt"):
        StagedEpisode.load(tmp_path / "corrupt")


def test_an_episode_json_staged_before_quality_was_typed_reads_back_with_no_quality(tmp_path: Path) -> None:
    write_episode(tmp_path / "ep", make_schema(storage="image"), 2, 13, "t")
    marker = tmp_path / "ep" / "episode.json"
    old = json.loads(marker.read_text())
    del old["quality"]
    marker.write_text(json.dumps({**old, "extra": {}}))  # as the previous version staged it (same STAGED_FORMAT)
    loaded = StagedEpisode.load(tmp_path / "ep")
    assert loaded.quality is None and loaded.length == 13 and set(loaded.stats) >= set(CAMERAS)


def test_staged_episode_round_trips_through_episode_json(tmp_path: Path) -> None:
    staged = write_episode(tmp_path / "ep", make_schema(storage="image"), 2, 13, "t")
    loaded = StagedEpisode.load(tmp_path / "ep")
    assert (loaded.length, loaded.task, loaded.source, loaded.quality) == (13, "t", "bag_2.bag", quality_of(2, 13))
    assert loaded.camera_shapes == dict.fromkeys(CAMERAS, (H, W, 3))
    assert set(loaded.stats) == {"observation.state", "action", *CAMERAS, "timestamp", "frame_index"}
    np.testing.assert_array_equal(loaded.stats["action"].mean, staged.stats["action"].mean)


def test_add_frame_names_feature_source_and_frame_on_bad_input(tmp_path: Path) -> None:
    images = {key: image_of(0, 0, 0) for key in CAMERAS}
    with EpisodeWriter(tmp_path / "ep", make_schema(), "t", "odd.bag", chunk_size=10) as writer:
        writer.add_frame(vectors_of(0, 0), images)
        bad = {**vectors_of(0, 1), "action": np.zeros(15, np.float32)}
        with pytest.raises(DataprepError, match=r"odd\.bag, frame 1: feature 'action' has shape \(15,\)"):
            writer.add_frame(bad, images)
        with pytest.raises(DataprepError, match=r"frame 1: vector features .* unknown \['extra'\]"):
            writer.add_frame({**vectors_of(0, 1), "extra": np.zeros(1)}, images)
        with pytest.raises(DataprepError, match=r"frame 1: camera 'observation.images.wrist' changed"):
            writer.add_frame(vectors_of(0, 1), {**images, CAMERAS[1]: np.zeros((H, W + 2, 3), np.uint8)})
        writer.add_frame(vectors_of(0, 1), images)  # rejected frames left the episode intact
        staged = writer.close()
    assert staged.length == 2 and staged.videos[CAMERAS[0]].frames == 2


def test_schema_rejects_slash_in_feature_names() -> None:
    with pytest.raises(DataprepError, match="contains '/'"):
        CameraFeature("observation/images/head")


@pytest.mark.parametrize("storage", ["video", "image"])
def test_staged_arrow_schema_is_the_hf_schema_without_the_global_columns(storage: str) -> None:
    from dataprep.lerobot.schema import dataset_arrow_schema, staged_arrow_schema

    schema = DatasetSchema(fps=10, robot_type="r", camera_storage=storage,
                           vectors=(VectorFeature("a", 1), VectorFeature("b", 7, "float64"), VectorFeature("c", 3, "int64")),
                           cameras=(CameraFeature("observation.images.x"),))
    staged = staged_arrow_schema(schema)
    hf = dataset_arrow_schema(schema).remove_metadata()
    assert staged.equals(pa.schema([hf.field(name) for name in staged.names]))
    assert hf.names[len(staged.names):] == ["episode_index", "index", "task_index"]


def test_converting_does_not_import_datasets_or_pandas() -> None:
    """Each costs ~50 MB of RSS next to three video encoders; only finalize needs them."""
    import subprocess
    import sys

    code = ("import sys, dataprep.conversion, dataprep.lerobot; "
            "print(sorted(m for m in ('datasets', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"
