"""Write tests/golden/format1: a dataset as the version before format 2 of meta/quality.json and meta/commit.json
wrote it (every entry and every source inside those two files), for tests/test_quality_files.py.

    git archive 2ed3a0a | tar -x -C /tmp/dataprep-v1        # the last commit writing format 1
    PYTHONPATH=/tmp/dataprep-v1 python tests/golden/make_format1.py /tmp/dataprep-v1

Converts bags a and b as tests/edit_helpers.py writes them (64x48, 1.5 s and 1.8 s) with its settings; the
test points the record's bag paths at its own copies of a and b.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(old: Path) -> None:
    sys.path[:0] = [str(old)]
    from dataprep.config import ConvertConfig, load_config
    from dataprep.config.models import InputSpec
    from dataprep.conversion import convert_dataset
    from dataprep.sample import KuavoBagSpec, write_kuavo_bag

    work = Path(tempfile.mkdtemp(prefix="format1-"))
    bags = [write_kuavo_bag(work / "bags" / f"{name}.bag", KuavoBagSpec(duration_s=1.5 + 0.3 * i, width=64, height=48))
            for i, name in enumerate("ab")]
    config = load_config(ConvertConfig, old / "configs/kuavo.yaml", [
        f"input.bags={bags[0]}", f"output_root={work / 'out'}", "repo_id=test/edit",
        "data_files_size_in_mb=0.03", "video_files_size_in_mb=0.02", "chunk_size=10"])
    config = config.model_copy(update={"input": InputSpec(bags=tuple(str(bag) for bag in bags))})
    root = convert_dataset(config).dataset.root
    target = HERE / "format1"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(root, target)
    shutil.rmtree(work)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
