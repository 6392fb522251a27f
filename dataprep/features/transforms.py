"""Element-wise unit conversions applied to a part's values, in the configured order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataprep.config import Transform


def apply_transforms(values: np.ndarray, transforms: Sequence[Transform]) -> np.ndarray:
    """Pure: returns a new array; `values` is never modified (it may be a view on a message buffer)."""
    out = np.asarray(values, dtype=np.float64)
    for transform in transforms:
        if transform.kind == "deg2rad":
            out = np.deg2rad(out)
        elif transform.kind == "scale":
            out = out * transform.value
        elif transform.kind == "offset":
            out = out + transform.value
        else:  # threshold
            out = (out >= transform.value).astype(np.float64)
    return out
