"""The rows of a staged episode: buffered, then written to its parquet as row groups bounded in rows and bytes.

A row group is the unit every later reader loads whole (finalize copies the staged rows row group by row
group), so its size is what their memory follows. Vector rows are small; PNG rows are not (~200 KB per
640x480 camera frame, 180 MB for 300 frames of three cameras), so in image mode a row group also ends once
its PNGs reach `max_group_bytes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.lerobot.arrow_arrays import numpy_array
from dataprep.lerobot.frame import ReadyRow
from dataprep.lerobot.schema import DatasetSchema, staged_arrow_schema

MB = 1024 * 1024
ROW_GROUP_BYTES = 32 * MB  # PNG bytes per row group: a few row groups' copies stay far below the encoders' memory


class RowBuffer:
    """`chunk_size` rows of the staged columns, preallocated, and the PNGs of the rows so far."""

    def __init__(self, schema: DatasetSchema, chunk_size: int) -> None:
        self.vectors = {v.key: np.zeros((chunk_size, v.dim), dtype=v.dtype) for v in schema.vectors}
        self.frame_index = np.zeros(chunk_size, dtype=np.int64)
        self.timestamp = np.zeros(chunk_size, dtype=np.float32)
        self.images: dict[str, list[bytes]] = {c.key: [] for c in schema.cameras}
        self.store_images = schema.camera_storage == "image"
        self.rows = 0
        self.image_bytes = 0

    def append(self, row: ReadyRow) -> None:
        self.frame_index[self.rows] = row.frame_index
        self.timestamp[self.rows] = row.timestamp  # float32, as lerobot stores it
        for key, value in row.values.items():
            self.vectors[key][self.rows] = value
        for key, png in row.pngs.items():
            self.images[key].append(png)
            self.image_bytes += len(png)
        self.rows += 1

    def table(self, schema: pa.Schema) -> pa.Table:
        n = self.rows
        columns: list[pa.Array] = [_vector_array(values[:n]) for values in self.vectors.values()]
        if self.store_images:
            columns.extend(_png_array(pngs) for pngs in self.images.values())
        columns.append(numpy_array(self.timestamp[:n]))  # the frame's own, float32 as lerobot stores it
        columns.append(numpy_array(self.frame_index[:n]))
        return pa.Table.from_arrays(columns, schema=schema)

    def clear(self) -> None:
        self.rows = self.image_bytes = 0
        for pngs in self.images.values():
            pngs.clear()


class RowWriter:
    """Appends rows to `tmp` as bounded row groups; `close` renames the finished file to `dest`."""

    def __init__(self, schema: DatasetSchema, tmp: Path, dest: Path, chunk_size: int,
                 max_group_bytes: int | None = None) -> None:
        self.schema, self.tmp, self.dest = schema, tmp, dest
        self.chunk_size, self.max_group_bytes = chunk_size, max_group_bytes or ROW_GROUP_BYTES
        self._arrow_schema = staged_arrow_schema(schema)
        self._buffer = RowBuffer(schema, chunk_size)
        self._parquet: pq.ParquetWriter | None = None
        self.rows = 0  # rows written or buffered

    def append(self, row: ReadyRow) -> None:
        self._buffer.append(row)
        self.rows += 1
        if self._buffer.rows == self.chunk_size or self._buffer.image_bytes >= self.max_group_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one row group."""
        buf = self._buffer
        if buf.rows == 0:
            return
        table = buf.table(self._arrow_schema)
        buf.clear()  # the table holds its own copy of the PNGs
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp, self._arrow_schema, compression="snappy")
        self._parquet.write_table(table, row_group_size=table.num_rows)

    def close(self) -> None:
        """Write what is buffered, finish the file (footer) and move it to `dest`."""
        self.flush()
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
            self.tmp.replace(self.dest)

    def abort(self) -> None:
        """Close the open file, as it is (the caller deletes it)."""
        self._buffer.clear()
        if self._parquet is not None:
            parquet, self._parquet = self._parquet, None
            parquet.close()


def _vector_array(values: np.ndarray) -> pa.Array:
    if values.shape[1] == 1:
        return numpy_array(values[:, 0])
    return pa.FixedSizeListArray.from_arrays(numpy_array(values.reshape(-1)), values.shape[1])


def _png_array(pngs: list[bytes]) -> pa.Array:
    """The image struct column; the binary child is built from offsets, for the reason arrow_arrays gives."""
    offsets = np.zeros(len(pngs) + 1, dtype=np.int32)
    np.cumsum([len(png) for png in pngs], out=offsets[1:])
    data = pa.Array.from_buffers(pa.binary(), len(pngs), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(pngs))])
    return pa.StructArray.from_arrays([data, pa.nulls(len(pngs), type=pa.string())], names=["bytes", "path"])
