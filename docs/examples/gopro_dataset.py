"""Prepare the bundled GoPro + spike sample and read one training sample from it, without torch.

    python docs/examples/gopro_dataset.py [OUTPUT_FOLDER]       # default: a new temporary folder
"""

import sys
import tempfile
from pathlib import Path

from dataprep.config import PipelineConfig, load_config
from dataprep.gopro import GoproSpikeDataset, prepare_tree

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dataprep-example-"))
pipeline = load_config(PipelineConfig, Path("configs/gopro_sample.yaml"), [
    f"gopro_prepare.gopro_root={out / 'raw/gopro'}",    # the sample trees are written here on first use
    f"gopro_prepare.spike_root={out / 'raw/spike'}",
    f"gopro_prepare.output_root={out / 'prepared'}",
])
config = pipeline.gopro_prepare
assert config is not None

report = prepare_tree(config)  # links, checked spikes, voxels; report.json beside them
print(f"prepared {report.output_root}: {report.totals()}")

train = GoproSpikeDataset.from_config(config, "train", mode="precomputed", cache_bytes=64 << 20)
sample = train[0]
print(f"{len(train)} training samples; the first: blur {sample.blur.shape} {sample.blur.dtype}, "
      f"sharp {sample.sharp.shape}, spike voxels {sample.spike.shape} ({sample.sequence}/{sample.frame})")
