"""A packed, then appended, dataset for the out-of-CI lerobot check (project env):
`python tests/golden/write_packed.py OUT` prints the dataset's folder.

Four generated Kuavo-like bags: the first two converted with tiny file limits (several data files, episodes
sharing mp4s), then all four (the two new ones appended into new files), as a nightly run would.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from dataprep.config import ConvertConfig, load_config  # noqa: E402
from dataprep.conversion import convert_dataset  # noqa: E402
from dataprep.sample import KuavoBagSpec, write_kuavo_bag  # noqa: E402

REPO_ID = "local/packed"


def main(out: Path) -> Path:
    bags = [write_kuavo_bag(out / "bags" / f"b{i}.bag", KuavoBagSpec(duration_s=2.0 + i, width=160, height=120))
            for i in range(4)]
    for planned in (bags[:2], bags):
        config = load_config(ConvertConfig, HERE.parents[1] / "configs" / "kuavo.yaml", [
            f"input.bags={[str(bag) for bag in planned]}", f"output_root={out / 'out'}", f"repo_id={REPO_ID}",
            "task=pick", "data_files_size_in_mb=0.001", "video_files_size_in_mb=0.05"])
        report = convert_dataset(config)
    print(report.dataset.root)
    return report.dataset.root


if __name__ == "__main__":
    main(Path(sys.argv[1]))
