"""Convert the bundled Kuavo-like sample with the library alone (no Prefect), then validate what it wrote.

    python docs/examples/convert_sample.py [OUTPUT_FOLDER]      # default: a new temporary folder

Run from the project folder (the configuration's `extends: kuavo.yaml` is found beside configs/default.yaml).
"""

import sys
import tempfile
from pathlib import Path

from dataprep.config import PipelineConfig, load_config
from dataprep.conversion import convert_dataset
from dataprep.sample import ensure_kuavo_sample
from dataprep.validate import validate_dataset

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dataprep-example-"))
bag = ensure_kuavo_sample(out / "kuavo_sample.bag")  # an 8 s ROS1 bag with three JPEG cameras, written once

pipeline = load_config(PipelineConfig, Path("configs/default.yaml"), [
    f"rosbag_to_lerobot.input.bags={bag}",
    f"rosbag_to_lerobot.output_root={out / 'datasets'}",
])
config = pipeline.rosbag_to_lerobot
assert config is not None

report = convert_dataset(config)
dataset = report.dataset
print(f"{dataset.repo_id}: {dataset.episodes} episode(s), {dataset.frames} frames at {dataset.fps} fps")
print(f"written to {dataset.root}")

verdict = validate_dataset(dataset.root)
print("valid" if verdict.ok else f"{len(verdict.findings)} problem(s): {verdict.findings}")
sys.exit(0 if verdict.ok else 1)
