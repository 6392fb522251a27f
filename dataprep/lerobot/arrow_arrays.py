"""Arrow arrays from numpy and Python values, and numpy views of arrow arrays, without importing pandas.

Every `pa.array(...)` call, on a numpy array or a Python list alike, asks pyarrow's pandas shim whether its
argument is a pandas object, and the shim imports pandas to answer: 44 MB of RSS and 0.3-1 s in a process
that never uses it (a conversion's finalize, a compaction, an append). These build the same arrays from
buffers; tests/test_conversion_heap.py compares them with what `pa.array` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa


def numpy_array(values: np.ndarray) -> pa.Array:
    """A 1-D numeric array as arrow, over the same bytes; what `pa.array(values)` gives.

    The array shares `values`' memory: the caller writes the table before it changes them.
    """
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def numpy_view(values: pa.Array) -> np.ndarray:
    """A primitive arrow array without nulls as numpy, over the same bytes; `to_numpy` imports pandas."""
    if values.null_count or not pa.types.is_primitive(values.type) or pa.types.is_boolean(values.type):
        return np.asarray(values.to_numpy(zero_copy_only=False))
    dtype = np.dtype(values.type.to_pandas_dtype())
    return np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values), offset=values.offset * dtype.itemsize)


def column_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A table's primitive column as one numpy array (a copy only when it has several chunks)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return numpy_view(column)


def python_array(values: Sequence[Any], type: pa.DataType) -> pa.Array:  # noqa: A002 - pyarrow's own name
    """What `pa.array(values, type=type)` gives for the metadata columns we write: integers, floats, strings
    and lists of them nested to any depth, without nulls (a None among them is a bug upstream: named here)."""
    if pa.types.is_list(type):
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        try:
            np.cumsum([len(value) for value in values], out=offsets[1:])
        except TypeError as error:
            raise ValueError(f"a {type} column holds a value that is not a list: {error}") from None
        child = python_array([item for value in values for item in value], type.value_type)
        return pa.ListArray.from_arrays(numpy_array(offsets), child, type=type)
    if pa.types.is_string(type):
        encoded = [value.encode() for value in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
        np.cumsum([len(text) for text in encoded], out=offsets[1:])
        return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets),
                                                                 pa.py_buffer(b"".join(encoded))])
    if pa.types.is_integer(type) or pa.types.is_floating(type):
        array = np.asarray(values, dtype=type.to_pandas_dtype())
        if array.ndim != 1:
            raise ValueError(f"a {type} column holds values that are not scalars (shape {array.shape})")
        return numpy_array(array)
    raise TypeError(f"python_array does not build {type} columns")

