"""Out of CI, in the lerobot venv: lerobot 0.6.1 loads and iterates every edited dataset, and our delete and
split equal lerobot-edit-dataset's on the same input, frame for frame.

    python tests/golden/write_edited.py /tmp/edited                                   # project environment
    HF_HUB_OFFLINE=1 /tmp/lerobot-venv/bin/python tests/golden/edit_check.py /tmp/edited

Every item of every dataset is read (each camera frame decoded by lerobot's own reader). Ours against
lerobot's: vectors must be equal; camera frames are compared by PSNR, since lerobot re-encodes the video
files that mixed kept and dropped episodes, while ours copies their packets (so ours equal the source's
frames exactly, which the CI tests check).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

DATASETS = ("source", "trim", "delete", "split/train", "split/val", "merge", "golden_merge")


def load(root: Path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(f"local/{root.name}", root=root)


def items(dataset) -> list[dict]:
    return [dataset[i] for i in range(len(dataset))]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)  # frames in [0, 1]


def compare(name: str, ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs), f"{name}: {len(ours)} frames, lerobot's {len(theirs)}"
    worst = float("inf")
    for a, b in zip(ours, theirs):
        for key, value in a.items():
            if not hasattr(value, "numpy"):
                continue
            x, y = value.numpy(), b[key].numpy()
            if "images" in key:
                worst = min(worst, psnr(x, y))
            else:
                assert np.array_equal(x, y), f"{name}: {key} differs at frame {int(a['index'])}"
    print(f"{name}: {len(ours)} frames equal to lerobot-edit-dataset's (vectors exactly, images PSNR >= {worst:.1f} dB)")


def main(out: Path) -> None:
    from lerobot.datasets.dataset_tools import delete_episodes, split_dataset

    loaded = {}
    for name in DATASETS:
        dataset = load(out / name)
        loaded[name] = items(dataset)
        print(f"{name}: loaded, {dataset.num_episodes} episodes, {len(dataset)} frames iterated")
    source = load(out / "source")
    for folder in ("lerobot_delete", "lerobot_split"):
        shutil.rmtree(out / folder, ignore_errors=True)
    theirs = delete_episodes(source, [1], output_dir=out / "lerobot_delete", repo_id="local/lerobot_delete")
    compare("delete", loaded["delete"], items(theirs))
    parts = split_dataset(source, {"train": [0, 2], "val": [1, 3]}, output_dir=out / "lerobot_split")
    for part in ("train", "val"):
        compare(f"split/{part}", loaded[f"split/{part}"], items(parts[part]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
