"""The golden frames through our writer (project env): `python tests/golden/write_ours.py OUT [video|image]`.

The counterpart of make_golden.py, for the out-of-CI merge check (tests/golden/merge_check.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import frames  # noqa: E402

from dataprep.lerobot import (  # noqa: E402
    CameraFeature,
    DatasetSchema,
    EpisodeWriter,
    PackLimits,
    VectorFeature,
    finalize_dataset,
)


def our_schema(storage: str = "video") -> DatasetSchema:
    """Our declaration of the features make_golden.py hands lerobot."""
    return DatasetSchema(
        fps=frames.FPS, robot_type=frames.ROBOT_TYPE,
        vectors=(VectorFeature("observation.state", 3, names=frames.STATE_NAMES),
                 VectorFeature("action", 2, names=frames.ACTION_NAMES),
                 VectorFeature("observation.gripper", 1)),
        cameras=(CameraFeature(frames.CAMERA),), camera_storage=storage,  # type: ignore[arg-type]
    )  # fmt: skip


def write(out: Path, storage: str = "video", limits: PackLimits | None = None) -> Path:
    """The golden frames through our EpisodeWriter and finalize_dataset; returns the dataset root.

    `limits`: how finalize packs the files (default lerobot's: both episodes share one file of each kind)."""
    schema, staged = our_schema(storage), []
    for episode, (length, task) in enumerate(frames.EPISODES):
        with EpisodeWriter(
            out / ".staging" / f"ep{episode}", schema, task, f"golden_{episode}", chunk_size=5
        ) as w:
            for i in range(length):
                w.add_frame(frames.vectors(episode, i), {frames.CAMERA: frames.image(episode, i)})
            staged.append(w.close())
    return finalize_dataset(staged, out / "dataset", frames.REPO_ID, schema, limits).root


if __name__ == "__main__":
    print(write(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "video"))
