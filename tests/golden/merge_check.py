"""Out of CI, in the lerobot venv: merge our dataset with the lerobot-written golden one and load the result.

    python tests/golden/write_ours.py /tmp/fidelity-ours video          # project environment
    HF_HUB_OFFLINE=1 /tmp/lerobot-venv/bin/python tests/golden/merge_check.py \\
        /tmp/fidelity-ours/dataset tests/golden/video /tmp/fidelity-merged
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(ours: Path, theirs: Path, merged: Path) -> None:
    from lerobot.datasets.aggregate import aggregate_datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    shutil.rmtree(merged, ignore_errors=True)
    aggregate_datasets(["local/ours", "local/theirs"], "local/merged", roots=[ours, theirs], aggr_root=merged)
    dataset = LeRobotDataset("local/merged", root=merged)
    print("merged:", len(dataset), "frames,", dataset.num_episodes, "episodes")
    decoded = sum(1 for i in range(len(dataset)) if dataset[i]["observation.images.front"].shape[0] == 3)
    print("frames decoded with their video frame:", decoded)
    for i in (0, len(dataset) - 1):
        item = dataset[i]
        print(
            f"item {i}: episode {int(item['episode_index'])}, task {item['task']!r}, "
            + ", ".join(f"{k} {tuple(v.shape)}" for k, v in item.items() if hasattr(v, "shape") and v.ndim)
        )
    stats = dataset.meta.stats
    camera = next(k for k in stats if "images" in k)
    print("stats count:", {k: int(v["count"][0]) for k, v in stats.items()})
    print(f"{camera} mean:", stats[camera]["mean"].reshape(-1).tolist())


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:4]))
