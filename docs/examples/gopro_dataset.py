"""Prepare a small GoPro + spike tree and read one training sample from it, without torch.

    python docs/examples/gopro_dataset.py [OUTPUT_FOLDER]       # default: a new temporary folder
"""

import sys
import tempfile
from pathlib import Path

from dataprep.config import GoproPrepareConfig
from dataprep.gopro import GoproSpikeDataset, SpikeGeometry, prepare_tree
from dataprep.sample import ensure_gopro_sample

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dataprep-example-"))
config = GoproPrepareConfig.model_validate({   # the gopro_prepare section of configs/gopro_sample.yaml, in Python
    "gopro_root": str(out / "raw/gopro"),
    "spike_root": str(out / "raw/spike"),
    "output_root": str(out / "prepared"),
    "spike": {"encoding": "bitpacked", "frames": 16, "height": 90, "width": 160},
    "voxels": {"bins": 4},
})
# Stand-in raw data: the bundled sample trees (3 sequences of 20 frames); point the roots at yours instead
ensure_gopro_sample(config.gopro_root, config.spike_root, SpikeGeometry.from_spec(config.spike))

report = prepare_tree(config)  # links, checked spikes, voxels; report.json beside them
print(f"prepared {report.output_root}: {report.totals()}")

train = GoproSpikeDataset.from_config(config, "train", mode="precomputed", cache_bytes=64 << 20)
sample = train[0]
print(f"{len(train)} training samples; the first: blur {sample.blur.shape} {sample.blur.dtype}, "
      f"sharp {sample.sharp.shape}, spike voxels {sample.spike.shape} ({sample.sequence}/{sample.frame})")
