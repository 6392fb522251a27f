"""Write tests/golden/lerobot_deleted: one of our datasets after `lerobot-edit-dataset delete_episodes` in place.

    python tests/golden/make_lerobot_edited.py [/tmp/lerobot-venv]       # project environment

Converts three generated Kuavo-like bags (a, b, c; 64x48, files shared by episodes), then runs lerobot
0.6.1's own `lerobot-edit-dataset --operation.type delete_episodes --operation.episode_indices "[1]"` with
`--new_root` equal to `--root`: lerobot moves the original to `<root>_old` and writes the edited dataset
without our meta/commit.json and meta/quality.json. Kept: the edited dataset as lerobot wrote it, and the
backup's commit record (tests/golden/lerobot_deleted_backup/commit.json), which tests/test_adopt.py puts
back beside it as `<root>_old/meta/commit.json`, with its bag paths pointed at the test's own bags.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from dataprep.config import ConvertConfig, load_config  # noqa: E402
from dataprep.conversion import convert_dataset  # noqa: E402
from dataprep.sample import KuavoBagSpec, write_kuavo_bag  # noqa: E402

SETTINGS = ("data_files_size_in_mb=0.05", "video_files_size_in_mb=0.05", "chunk_size=10")


def main(venv: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="lerobot-edited-"))
    bags = [write_kuavo_bag(work / "bags" / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=64, height=48))
            for i, name in enumerate("abc")]
    config = load_config(ConvertConfig, HERE.parents[1] / "configs" / "kuavo.yaml", [
        f"input.bags={[str(bag) for bag in bags]}", f"output_root={work / 'out'}", "repo_id=local/ds", *SETTINGS])
    root = convert_dataset(config).dataset.root
    subprocess.run([str(venv / "bin" / "lerobot-edit-dataset"), "--repo_id", "local/ds", "--root", str(root),
                    "--new_root", str(root), "--operation.type", "delete_episodes",
                    "--operation.episode_indices", "[1]"], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    shutil.rmtree(HERE / "lerobot_deleted", ignore_errors=True)
    shutil.copytree(root, HERE / "lerobot_deleted")
    (HERE / "lerobot_deleted_backup").mkdir(exist_ok=True)
    shutil.copy2(root.with_name(root.name + "_old") / "meta" / "commit.json", HERE / "lerobot_deleted_backup")
    shutil.rmtree(work)
    print(HERE / "lerobot_deleted")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/lerobot-venv"))
