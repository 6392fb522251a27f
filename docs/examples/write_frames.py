"""Write a LeRobot v3.0 dataset from your own frames: one `Frame` record per frame into an `EpisodeWriter`, then
`finalize_dataset`; read its typed info.json back and validate it.

    python docs/examples/write_frames.py [OUTPUT_FOLDER]      # default: a new temporary folder
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from dataprep.lerobot import CameraFeature, DatasetInfo, DatasetSchema, EpisodeWriter, VectorFeature, finalize_dataset
from dataprep.lerobot.frame import Frame
from dataprep.validate import validate_dataset

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dataprep-example-"))
schema = DatasetSchema(fps=10, robot_type="arm", vectors=(VectorFeature("observation.state", 2, names=("x", "y")),),
                       cameras=(CameraFeature("observation.images.top"),), camera_storage="image")

staged = []
for episode, length in enumerate((12, 8)):
    with EpisodeWriter(out / "staging" / f"episode-{episode}", schema, "reach", f"take {episode}", 100) as writer:
        for i in range(length):
            state = np.array([i * 0.1, episode], dtype=np.float32)
            image = np.full((48, 64, 3), 20 * i, dtype=np.uint8)
            writer.write(Frame.at(i, schema.fps, {"observation.state": state}, {"observation.images.top": image}))
        staged.append(writer.close())

summary = finalize_dataset(staged, out / "datasets" / "me" / "reach", "me/reach", schema)
info = DatasetInfo.read(summary.root)
feature = info.features["observation.state"]
print(f"{summary.episodes} episodes, {summary.frames} frames; observation.state: {feature.dtype} {list(feature.shape)}")

verdict = validate_dataset(summary.root)
print("valid" if verdict.ok else f"{len(verdict.findings)} problem(s): {verdict.findings}")
sys.exit(0 if verdict.ok else 1)
