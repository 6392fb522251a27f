"""What a conversion holds next to its encoders: no pandas or datasets import, and freed heap handed back.

Issue 18 item 4 (peak within ~60 MB of the encoders alone). The peak used to come from two things stacked
on the encoders' memory: pandas, imported by pyarrow's `pa.array` at the first row-group flush, and
`datasets` + pandas imported by finalize for the arrow schema, on top of the heap glibc kept after the
encoders closed. The figures are in bench/README.md; these tests hold the behaviour.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest

from dataprep.lerobot.arrow_arrays import column_numpy, numpy_array, numpy_view, python_array
from dataprep.lerobot.row_buffer import _png_array
from dataprep.lerobot.schema import (
    CameraFeature,
    DatasetSchema,
    VectorFeature,
    dataset_arrow_schema,
    dataset_hf_features,
)

PROJECT = Path(__file__).resolve().parents[1]


def _schema(storage: str) -> DatasetSchema:
    vectors = (VectorFeature("a", 1), VectorFeature("b", 7, "float64"), VectorFeature("c", 3, "int64"),
               VectorFeature("d", 1, "int64"), VectorFeature("e", 2, "float32"))
    return DatasetSchema(fps=10, robot_type="r", camera_storage=storage,  # type: ignore[arg-type]
                         vectors=vectors, cameras=(CameraFeature("observation.images.x"),
                                                   CameraFeature("observation.images.y")))


@pytest.mark.parametrize("storage", ["video", "image"])
def test_arrow_schema_built_without_datasets_equals_the_one_datasets_builds(storage: str) -> None:
    ours = dataset_arrow_schema(_schema(storage))
    theirs = dataset_hf_features(_schema(storage)).arrow_schema
    assert ours.equals(theirs, check_metadata=True)
    assert ours.metadata == theirs.metadata  # the bytes written into every data parquet's footer
    assert datasets.Features.from_arrow_schema(ours) == dataset_hf_features(_schema(storage))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_row_arrays_equal_what_pa_array_makes(dtype: str) -> None:
    values = (np.arange(60).reshape(20, 3) * 1.5).astype(dtype)
    flat = numpy_array(values.reshape(-1))
    assert flat.equals(pa.array(values.reshape(-1)))
    assert flat.type == pa.from_numpy_dtype(np.dtype(dtype)) and flat.null_count == 0
    assert numpy_array(values[:, 1]).equals(pa.array(values[:, 1]))  # a strided column is copied
    assert numpy_array(values[:0, 0]).equals(pa.array(values[:0, 0]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_numpy_view_equals_to_numpy_for_sliced_and_flattened_columns(dtype: str) -> None:
    column = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(30).astype(dtype)), 3)
    for values in (column.flatten(), column.slice(4, 3).flatten(), column.flatten().slice(5, 11)):
        view = numpy_view(values)
        assert view.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(view, values.to_numpy(zero_copy_only=False))
    with_null = pa.array([1.0, None, 3.0])
    np.testing.assert_array_equal(numpy_view(with_null), with_null.to_numpy(zero_copy_only=False))


METADATA_COLUMNS = [  # the types of meta/episodes and meta/tasks columns, with edge cases
    (pa.int64(), [3, -1, 0, 2**40]),
    (pa.float64(), [0.5, -2.25, 1e300, 0.0]),
    (pa.string(), ["a task", "", "émoji ✓", "x" * 300]),
    (pa.list_(pa.string()), [["one"], [], ["two", "three"]]),
    (pa.list_(pa.int64()), [[5], [6, 7], []]),
    (pa.list_(pa.list_(pa.list_(pa.float64()))), [[[[0.1]], [[0.2]], [[0.3]]], [[[1.0]], [[2.0]], [[3.0]]]]),
    (pa.int64(), []),
    (pa.list_(pa.float64()), []),
]


@pytest.mark.parametrize(("dtype", "values"), METADATA_COLUMNS, ids=lambda v: str(v)[:30])
def test_python_array_equals_what_pa_array_makes(dtype: pa.DataType, values: list[object]) -> None:
    ours = python_array(values, dtype)
    assert ours.equals(pa.array(values, type=dtype)) and ours.type == dtype
    assert ours.to_pylist() == values


def test_python_array_names_a_value_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match=r"list<item: int64>.*not a list"):
        python_array([[1], 2], pa.list_(pa.int64()))
    with pytest.raises(TypeError, match="does not build bool"):
        python_array([True], pa.bool_())


def test_column_numpy_joins_the_chunks_of_a_column() -> None:
    column = pa.chunked_array([pa.array(np.arange(3)), pa.array(np.arange(3, 7))])
    np.testing.assert_array_equal(column_numpy(column), np.arange(7))
    np.testing.assert_array_equal(column_numpy(pa.chunked_array([pa.array([4.5, 5.5])])), [4.5, 5.5])


def test_png_column_equals_what_pa_array_makes() -> None:
    pngs = [b"\x89PNG first", b"", b"\x00" * 1000, b"last"]
    expected = pa.StructArray.from_arrays(
        [pa.array(pngs, type=pa.binary()), pa.nulls(len(pngs), type=pa.string())], names=["bytes", "path"])
    assert _png_array(pngs).equals(expected)
    assert _png_array(pngs).field("bytes").to_pylist() == pngs


STAGE_AND_FINALIZE = """
import sys
from pathlib import Path
import numpy as np
from dataprep.lerobot.episode_writer import EpisodeWriter
from dataprep.lerobot.finalize import finalize_dataset
from dataprep.lerobot.schema import CameraFeature, DatasetSchema, VectorFeature
from dataprep.lerobot.video import VideoEncoder

tmp = Path(sys.argv[1])
schema = DatasetSchema(fps=10, robot_type="r", vectors=(VectorFeature("s", 2), VectorFeature("g", 1, "int64")),
                       cameras=(CameraFeature("observation.images.x"),))
seen = []
close = VideoEncoder.close
def watched_close(self):  # what is imported while the encoders still hold their memory
    seen.append(sorted(m for m in ("datasets", "pandas") if m in sys.modules))
    return close(self)
VideoEncoder.close = watched_close
with EpisodeWriter(tmp / "ep", schema, "task", "bag", chunk_size=4) as writer:  # several row groups
    for i in range(13):
        image = np.full((32, 32, 3), 9 * i, dtype=np.uint8)
        writer.add_frame({"s": np.array([i, -i], dtype=np.float32), "g": np.array([i % 2])},
                         {"observation.images.x": image})
    staged = writer.close()
finalize_dataset([staged], tmp / "dataset", "local/t", schema)
print(seen, "datasets" in sys.modules, "pandas" in sys.modules)
"""


def test_staging_and_finalize_import_neither_datasets_nor_pandas(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", STAGE_AND_FINALIZE, str(tmp_path)], cwd=PROJECT,
                            capture_output=True, text=True, check=False, env=_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "[[]] False False"  # neither while encoding nor after


TRIM = """
import sys
from dataprep.memory.snapshot import release_free_heap
import psutil
rss = lambda: psutil.Process().memory_info().rss
blocks = [bytearray(60_000) for _ in range(4000)]  # 240 MB in blocks under the mmap threshold: heap pages
for i in range(len(blocks) - 1):  # the last one pins the top of the heap, so free() alone trims nothing
    blocks[i] = None
before = rss()
print(release_free_heap(), before - rss())
"""


def test_release_free_heap_hands_freed_pages_back(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", TRIM], cwd=PROJECT, capture_output=True, text=True,
                            check=True, env=_env())
    released, freed = result.stdout.split()
    if sys.platform.startswith("linux"):
        assert released == "True"
        assert int(freed) > 150 * 1024 * 1024  # most of the 240 MB freed by Python goes back to the system
    else:
        assert released == "False"


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(PROJECT), "SVT_LOG": "1"}
