"""The EpisodeWriter's pieces whose behaviour is new: the frame record, the PNG encoder pool, PNG-bounded row groups,
spilled histograms."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from dataprep.errors import DataprepError
from dataprep.lerobot import row_buffer
from dataprep.lerobot.episode_writer import EpisodeWriter
from dataprep.lerobot.frame import Frame, ReadyRow
from dataprep.lerobot.image_stats import ImageStats
from dataprep.lerobot.png_pool import PngEncoderPool
from dataprep.lerobot.row_buffer import RowWriter
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature


def numbered_image(n: int, h: int = 24, w: int = 32) -> np.ndarray:
    """An RGB image whose three channels spell the frame number, so a decoded PNG says which frame it is."""
    image = np.empty((h, w, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = n % 256, n // 256, 255 - n % 256
    return image


def frame_number(png: bytes) -> int:
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert (rgb == rgb[0, 0]).all()
    return int(rgb[0, 0, 0]) + 256 * int(rgb[0, 0, 1])


def noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # incompressible: a PNG of ~h*w*3 bytes


def image_schema(cameras: tuple[str, ...] = ("cam",)) -> DatasetSchema:
    return DatasetSchema(fps=10, robot_type="test", vectors=(VectorFeature("state", 2),),
                         cameras=tuple(CameraFeature(key) for key in cameras), camera_storage="image")


def test_frame_records_are_written_in_order_and_a_wrong_index_or_timestamp_leaves_the_episode_as_it_was(
    tmp_path: Path,
) -> None:
    state = {"state": np.array([1.5, -2.0], np.float32)}
    with EpisodeWriter(tmp_path / "ep", image_schema(), "t", "order.bag", chunk_size=2) as writer:
        for i in range(2):
            writer.write(Frame.at(i, 10, state, {"cam": numbered_image(i)}))
        with pytest.raises(DataprepError, match=r"order\.bag, frame 2: the frame is numbered 5; .* must be 2"):
            writer.write(Frame.at(5, 10, state, {"cam": numbered_image(5)}))
        with pytest.raises(DataprepError, match=r"order\.bag, frame 2: timestamp 0\.25 s, but lerobot requires "
                                                r"frame_index / fps = 0\.2 s"):
            writer.write(Frame(2, 0.25, state, {"cam": numbered_image(2)}))
        writer.write(Frame.at(2, 10, state, {"cam": numbered_image(2)}))
        writer.add_frame(state, {"cam": numbered_image(3)})  # numbered by order: the fourth frame
        staged = writer.close()

    table = pq.read_table(staged.data_path)
    assert staged.length == 4 and table.column("frame_index").to_pylist() == [0, 1, 2, 3]
    assert table.column("timestamp").to_pylist() == [float(np.float32(i / 10)) for i in range(4)]
    assert [frame_number(cell["bytes"]) for cell in table.column("cam").to_pylist()] == [0, 1, 2, 3]


def test_png_pool_hands_frames_back_in_order_with_bounded_work_in_flight() -> None:
    pool: PngEncoderPool[int] = PngEncoderPool("order.bag", threads=3, in_flight=4)
    back: list[tuple[int, dict[str, bytes]]] = []
    images = {"a": numbered_image(0), "b": numbered_image(0)}
    for n in range(300):
        images["a"][:], images["b"][:] = numbered_image(n), numbered_image(n + 1000)  # reused: copied on submit
        back += pool.submit(n, images)
        assert pool.pending <= 4
    back += pool.drain()
    pool.close()
    assert [tag for tag, _ in back] == list(range(300))
    assert [frame_number(pngs["a"]) for _, pngs in back] == list(range(300))
    assert [frame_number(pngs["b"]) for _, pngs in back] == [n + 1000 for n in range(300)]


def test_png_pool_failure_names_the_source_frame_and_camera() -> None:
    pool: PngEncoderPool[int] = PngEncoderPool("broken.bag", threads=2, in_flight=2)
    good = numbered_image(1)
    with pytest.raises(DataprepError, match=r"broken\.bag, frame 3: camera 'wrist': PNG encoding failed"):
        for n in range(8):
            wrist = np.zeros((24, 32, 2), np.uint8) if n == 3 else good  # two channels: no PNG for that
            pool.submit(n, {"head": good, "wrist": wrist})
        pool.drain()
    pool.close()


def test_png_row_groups_are_bounded_in_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pngs = [cv2.imencode(".png", noise(rng, 40, 50))[1].tobytes() for _ in range(30)]  # ~6 KB each
    bound = 4 * min(len(png) for png in pngs)  # 3 rows stay below it, 4 reach it
    writer = RowWriter(image_schema(), tmp_path / "rows.tmp", tmp_path / "rows.parquet", chunk_size=1000,
                       max_group_bytes=bound)
    for i, png in enumerate(pngs):
        writer.append(ReadyRow(i, i / 10, {"state": np.array([i, -i], np.float32)}, {"cam": png}))
    writer.close()

    rows = pq.ParquetFile(tmp_path / "rows.parquet")
    sizes = [rows.metadata.row_group(g).num_rows for g in range(rows.num_row_groups)]
    assert sizes == [4] * 7 + [2]  # the group that reaches the bound ends it
    table = rows.read()
    assert table.column("frame_index").to_pylist() == list(range(30))
    assert [cell["bytes"] for cell in table.column("cam").to_pylist()] == pngs
    assert not (tmp_path / "rows.tmp").exists()


def test_image_mode_episode_splits_row_groups_at_the_byte_bound_and_keeps_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    frames = [noise(rng, 48, 64) for _ in range(4)]  # a noise PNG is ~9.3 KB
    monkeypatch.setattr(row_buffer, "ROW_GROUP_BYTES", 5 * 9000)  # the default's 32 MB, scaled to the frames
    with EpisodeWriter(tmp_path / "ep", image_schema(("a", "b")), "t", "long.bag", chunk_size=300) as writer:
        for i in range(40):
            writer.add_frame({"state": np.array([i, 0.5], np.float32)}, {"a": frames[i % 4], "b": frames[3 - i % 4]})
        staged = writer.close()

    rows = pq.ParquetFile(staged.data_path)
    sizes = [rows.metadata.row_group(g).num_rows for g in range(rows.num_row_groups)]
    assert sum(sizes) == 40 and max(sizes) == 3  # 3 rows of two PNGs reach the bound: far below chunk_size
    table = rows.read()
    assert table.column("frame_index").to_pylist() == list(range(40))
    for camera, order in (("a", lambda i: i % 4), ("b", lambda i: 3 - i % 4)):
        for i, cell in enumerate(table.column(camera).to_pylist()):
            decoded = cv2.imdecode(np.frombuffer(cell["bytes"], np.uint8), cv2.IMREAD_COLOR)
            np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), frames[order(i)])


def test_sampled_image_histograms_wait_on_disk_and_leave_no_file(tmp_path: Path) -> None:
    stats, whole = ImageStats(every_frame=False, spill_dir=tmp_path), ImageStats(every_frame=False)
    for n in range(50):
        stats.update(numbered_image(n, 40, 40))
    assert stats.result().count.tolist() == [50]
    assert list(tmp_path.iterdir()) == []  # an unnamed file: nothing to clean up, even after a crash
    for n in range(50, 60):  # result() leaves the file ready for more frames
        stats.update(numbered_image(n, 40, 40))
    for n in range(60):
        whole.update(numbered_image(n, 40, 40))
    later, expected = stats.result(), whole.result()
    assert later.count.tolist() == [60]
    np.testing.assert_array_equal(later.mean, expected.mean)
    np.testing.assert_array_equal(later.q50, expected.q50)
    stats.close()
    whole.close()
