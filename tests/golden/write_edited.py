"""Edited datasets for the out-of-CI lerobot check (project env): `python tests/golden/write_edited.py OUT`.

Four generated Kuavo-like bags (160x120, files shared by episodes) make OUT/source; then each operation's
result: OUT/trim (episode 1 frames 3:-2, re-encoded; episode 2 frames 2:, packet copy), OUT/delete
(episode 1), OUT/split/{train,val} (val episodes 1 and 3), OUT/merge (val then train), OUT/golden_merge
(tests/golden/video twice). Then run tests/golden/edit_check.py OUT in the lerobot venv.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from dataprep.config import ConvertConfig, load_config  # noqa: E402
from dataprep.conversion import convert_dataset  # noqa: E402
from dataprep.edit import delete_episodes, merge_datasets, split_dataset, trim_episode  # noqa: E402
from dataprep.sample import KuavoBagSpec, write_kuavo_bag  # noqa: E402


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    bags = [write_kuavo_bag(out / "bags" / f"b{i}.bag", KuavoBagSpec(duration_s=2.0 + i, width=160, height=120))
            for i in range(4)]
    config = load_config(ConvertConfig, HERE.parents[1] / "configs" / "kuavo.yaml", [
        f"input.bags={[str(bag) for bag in bags]}", f"output_root={out / 'converted'}", "repo_id=local/source",
        "data_files_size_in_mb=0.02", "video_files_size_in_mb=0.15"])
    source = convert_dataset(config).dataset.root
    shutil.copytree(source, out / "source")
    for name in ("trim", "delete"):
        shutil.copytree(source, out / name)
    trim_episode(out / "trim", 1, "3:-2")
    trim_episode(out / "trim", 2, "2:")
    delete_episodes(out / "delete", [1])
    split_dataset(out / "source", (out / "split/train", out / "split/val"), val_episodes=[1, 3])
    merge_datasets([out / "split/val", out / "split/train"], out / "merge")
    merge_datasets([HERE / "video", HERE / "video"], out / "golden_merge")
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
