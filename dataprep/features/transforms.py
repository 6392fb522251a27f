"""Element-wise unit conversions applied to a part's values, in the configured order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataprep.config.models import Transform


def apply_transforms(values: np.ndarray, transforms: Sequence[Transform]) -> np.ndarray:
    """Pure: returns a new array; `values` is never modified (it may be a view on a message buffer)."""
    out = np.asarray(values, dtype=np.float64)
    for transform in transforms:
        if transform.kind == "deg2rad":
            out = np.deg2rad(out)
            continue
        value = float(transform.value)  # type: ignore[arg-type]  # the model requires it for these kinds
        if transform.kind == "scale":
            out = out * value
        elif transform.kind == "offset":
            out = out + value
        else:  # threshold
            out = (out >= value).astype(np.float64)
    return out
