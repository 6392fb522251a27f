"""Packed datasets (many episodes per data and video file): laid out as lerobot lays them out, and validated.

Our writer's golden dataset, packed by finalize as lerobot packs: the data parquets' rows one after another
in one file, the mp4s concatenated by stream copy, each episode's from/to_timestamp from the concatenation's
spans.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from golden import frames
from golden.write_ours import write

from dataprep.validate import Finding, validate_dataset

GOLDEN = Path(__file__).resolve().parent / "golden"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
DATA_0 = "data/chunk-000/file-000.parquet"
VIDEO_0 = f"videos/{frames.CAMERA}/chunk-000/file-000.mp4"
SPAN_COLUMNS = (f"videos/{frames.CAMERA}/from_timestamp", f"videos/{frames.CAMERA}/to_timestamp")


def set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values, table.schema.field(name).type))


@pytest.fixture(scope="module")
def packed_clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("packed"), "video")  # finalize packs both episodes into file 0


@pytest.fixture
def packed(packed_clean: Path, tmp_path: Path) -> Path:
    """A private copy a test may break."""
    return Path(shutil.copytree(packed_clean, tmp_path / "dataset"))


def spans_of(root: Path) -> list[tuple[float, float]]:
    table = pq.read_table(root / EPISODES, columns=list(SPAN_COLUMNS))
    return list(zip(*(table[name].to_pylist() for name in SPAN_COLUMNS)))


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(p.pts * p.time_base) for p in container.demux(stream) if p.pts is not None)


def test_packed_dataset_is_laid_out_as_lerobot_packs_it(packed_clean: Path) -> None:
    assert spans_of(packed_clean) == spans_of(GOLDEN / "video")
    assert frame_times(packed_clean / VIDEO_0) == frame_times(GOLDEN / "video" / VIDEO_0)
    assert sorted(p.name for p in (packed_clean / "data/chunk-000").iterdir()) == ["file-000.parquet"]


def test_packed_dataset_passes_with_every_frame_decoded(packed_clean: Path) -> None:
    report = validate_dataset(packed_clean, decode_all=True)

    assert report.ok, report.table()
    assert (report.episodes, report.frames, report.videos) == (2, 21, 1)


def test_span_starting_inside_the_previous_episode_is_named(packed: Path) -> None:
    table = pq.read_table(packed / EPISODES)
    (_, end0), (start1, end1) = spans_of(packed)
    shift = 1 / frames.FPS  # one frame early: still 9 frames at exact times, but the first is episode 0's
    table = set_column(table, SPAN_COLUMNS[0], [0.0, start1 - shift])
    table = set_column(table, SPAN_COLUMNS[1], [end0, end1 - shift])
    pq.write_table(table, packed / EPISODES)

    findings = validate_dataset(packed).findings

    assert findings == (
        Finding(
            "video.span", VIDEO_0, "span 1.1000..2.0000 s starts inside episode 0's span 0.0000..1.2000 s",
            1, frames.CAMERA,
        ),
    )  # fmt: skip


def test_data_file_no_episode_points_to_is_named(packed: Path) -> None:
    shutil.copy(packed / DATA_0, packed / "data/chunk-000/file-001.parquet")  # a leftover of a crashed pack

    findings = validate_dataset(packed).findings

    assert [(f.check, f.file) for f in findings] == [("data.files", "data/chunk-000/file-001.parquet")]
    assert "no episode points to it" in findings[0].message


def test_episode_rows_away_from_their_dataset_index_range_are_named(packed: Path) -> None:
    rows = pq.read_table(packed / DATA_0)
    swapped = pa.concat_tables([rows.slice(12), rows.slice(0, 12)])  # episode 1's rows first in the shared file
    pq.write_table(set_column(swapped, "index", list(range(21))), packed / DATA_0)  # positions look contiguous

    findings = validate_dataset(packed).findings

    assert [(f.check, f.file, f.episode, f.message) for f in findings] == [
        ("data.index", DATA_0, 0, "index runs 9..20 (gaps or disorder), expected 0..11"),
        ("data.index", DATA_0, 1, "index runs 0..8 (gaps or disorder), expected 12..20"),
    ]  # lerobot would read rows dataset_from_index..to_index of the file: the other episode's
