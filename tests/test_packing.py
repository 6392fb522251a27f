"""Packing: episodes share v3.0 files up to the size limits, and every episode's span holds its own frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from frame_numbers import decode_at, draw_number, read_number

from dataprep.lerobot import EpisodeWriter, PackLimits, StagedEpisode, finalize_dataset
from dataprep.lerobot.layout import data_file, video_file
from dataprep.lerobot.packing import next_file, plan_files
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.video import VideoSettings
from dataprep.validate import validate_dataset

FPS = 10
LENGTHS = (6, 9, 4, 7, 5, 8)
CAMERAS = ("observation.images.front", "observation.images.wrist")
W, H = 64, 48
MIB = 1024 * 1024


def number(episode: int, frame: int, camera: int) -> int:
    """The number drawn in a frame: which episode, frame and camera it is (fits the 12 bits of 64x48)."""
    return episode * 200 + frame * 2 + camera


def schema_of(storage: str) -> DatasetSchema:
    return DatasetSchema(
        fps=FPS, robot_type="test_bot", vectors=(VectorFeature("observation.state", 2),),
        cameras=tuple(CameraFeature(key) for key in CAMERAS), camera_storage=storage,  # type: ignore[arg-type]
        video=VideoSettings(codec="h264"),
    )  # fmt: skip


def stage(folder: Path, schema: DatasetSchema) -> list[StagedEpisode]:
    staged = []
    for e, n in enumerate(LENGTHS):
        with EpisodeWriter(folder / f"ep{e}", schema, f"task {e % 2}", f"bag_{e}.bag", chunk_size=4) as writer:
            for i in range(n):
                images = {key: draw_number(number(e, i, c), W, H) for c, key in enumerate(CAMERAS)}
                writer.add_frame({"observation.state": np.array([e, i], np.float32)}, images)
            staged.append(writer.close())
    return staged


def episodes(root: Path) -> list[dict]:
    files = sorted((root / "meta/episodes").rglob("*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


def test_plan_files_appends_until_the_next_episode_would_reach_the_limit_then_wraps_chunks() -> None:
    sizes = [MIB // 2, MIB // 4, MIB // 4, 3 * MIB, MIB // 10, MIB // 10]
    assert plan_files(sizes, 1, (0, 0), chunks_size=2) == [(0, 0), (0, 0), (0, 1), (1, 0), (1, 1), (1, 1)]
    assert plan_files(sizes, 100, (4, 999), chunks_size=1000) == [(4, 999)] * 6  # appended: starts where told
    assert next_file((0, 999), 1000) == (1, 0) and next_file((2, 5), 1000) == (2, 6)


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("packed")
    staged = stage(tmp / "staging", schema_of("video"))
    sizes = [ep.video_path(key).stat().st_size for ep in staged for key in CAMERAS]
    assert 3 * min(sizes) > 2.2 * max(sizes)  # so a file holds two episodes, never three
    video_limit = 2.2 * max(sizes) / MIB
    data_limit = 2.5 * max(ep.data_path.stat().st_size for ep in staged) / MIB
    limits = PackLimits(data_files_size_in_mb=data_limit, video_files_size_in_mb=video_limit, chunks_size=2)
    return finalize_dataset(staged, tmp / "dataset", "local/packed", schema_of("video"), limits).root


def test_a_small_size_limit_gives_several_files_per_camera_in_chunks_of_chunks_size(packed: Path) -> None:
    rows = episodes(packed)
    for key in CAMERAS:
        # the limit holds two episodes' mp4s but never three: pairs, and chunk-001 after chunks_size=2 files
        files = sorted(p.relative_to(packed / "videos" / key).as_posix() for p in (packed / "videos" / key).rglob("*"))
        assert files == ["chunk-000", "chunk-000/file-000.mp4", "chunk-000/file-001.mp4", "chunk-001",
                         "chunk-001/file-000.mp4"]
        places = [(r[f"videos/{key}/chunk_index"], r[f"videos/{key}/file_index"]) for r in rows]
        assert places == [(0, 0), (0, 0), (0, 1), (0, 1), (1, 0), (1, 0)]
    assert len(list((packed / "data").rglob("*.parquet"))) >= 2
    info = json.loads((packed / "meta/info.json").read_text())
    assert info["chunks_size"] == 2 and info["video_files_size_in_mb"] < 1


def test_every_episodes_timestamps_decode_to_its_own_frames(packed: Path) -> None:
    for row in episodes(packed):
        e, n = row["episode_index"], row["length"]
        for c, key in enumerate(CAMERAS):
            path = packed / video_file(key, row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"])
            start = row[f"videos/{key}/from_timestamp"]
            assert row[f"videos/{key}/to_timestamp"] == pytest.approx(start + n / FPS, abs=1e-9)
            frames = decode_at(path, [start + k / FPS for k in range(n)])
            assert [read_number(f) for f in frames] == [number(e, k, c) for k in range(n)], (e, key)


def test_every_episodes_rows_sit_in_the_data_file_it_names(packed: Path) -> None:
    for row in episodes(packed):
        path = packed / data_file(row["data/chunk_index"], row["data/file_index"])
        table = pq.read_table(path).to_pandas()
        mine = table[table["episode_index"] == row["episode_index"]]
        assert mine["index"].tolist() == list(range(row["dataset_from_index"], row["dataset_to_index"]))
        assert mine["frame_index"].tolist() == list(range(row["length"]))
        assert [s[1] for s in mine["observation.state"]] == list(range(row["length"]))


def test_the_validator_passes_a_packed_dataset_and_decodes_every_frame(packed: Path) -> None:
    report = validate_dataset(packed, decode_all=True)
    assert report.ok, report.table()


def test_image_mode_packs_rows_into_several_data_files(tmp_path: Path) -> None:
    staged = stage(tmp_path / "staging", schema_of("image"))
    limit = 2.5 * max(ep.data_path.stat().st_size for ep in staged) / MIB
    root = finalize_dataset(staged, tmp_path / "dataset", "local/img", schema_of("image"),
                            PackLimits(data_files_size_in_mb=limit)).root
    files = sorted((root / "data").rglob("*.parquet"))
    assert 2 <= len(files) < len(LENGTHS)
    assert [r["data/file_index"] for r in episodes(root)] == sorted(r["data/file_index"] for r in episodes(root))
    assert validate_dataset(root).ok
