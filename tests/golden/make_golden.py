"""Write the golden datasets with lerobot 0.6.1's own writer; run in the Python >= 3.12 venv with lerobot.

    HF_HUB_OFFLINE=1 /tmp/lerobot-venv/bin/python tests/golden/make_golden.py

Writes tests/golden/video (libsvtav1 video, streaming encoding as `lerobot-record
--dataset.streaming_encoding=true` records) and tests/golden/image (PNG images in parquet), both from the
frames of tests/golden/frames.py, and tests/golden/VERSIONS.json naming the library versions used.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import frames  # noqa: E402


def write(root: Path, use_videos: bool) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    shutil.rmtree(root, ignore_errors=True)
    dataset = LeRobotDataset.create(
        frames.REPO_ID, frames.FPS, frames.lerobot_features(use_videos), root=root,
        robot_type=frames.ROBOT_TYPE, use_videos=use_videos, streaming_encoding=use_videos,
    )  # fmt: skip
    for episode, (length, task) in enumerate(frames.EPISODES):
        for i in range(length):
            dataset.add_frame(
                {**frames.vectors(episode, i), frames.CAMERA: frames.image(episode, i), "task": task}
            )
        dataset.save_episode()
    dataset.finalize()


def main() -> None:
    import av
    import datasets
    import lerobot
    import pyarrow

    write(HERE / "video", use_videos=True)
    write(HERE / "image", use_videos=False)
    versions = {
        "lerobot": lerobot.__version__,
        "datasets": datasets.__version__,
        "pyarrow": pyarrow.__version__,
        "av": av.__version__,
        "python": sys.version.split()[0],
    }
    (HERE / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    main()
