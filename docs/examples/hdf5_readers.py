"""Index two small HDF5 files (offline-RL replay rows and a point cloud) and read batches from the index.

    python docs/examples/hdf5_readers.py [OUTPUT_FOLDER]        # default: a new temporary folder
"""

import sys
import tempfile
from pathlib import Path

from dataprep.config import Hdf5IndexConfig
from dataprep.hdf5 import ReplaySampler, SegmentDataset, build_index, collate_segments
from dataprep.sample import write_replay_file, write_segment_file

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="dataprep-example-"))
out.mkdir(parents=True, exist_ok=True)
write_replay_file(out / "replay.h5")                  # stand-in data: 300 rows, three 32x32 cameras
write_segment_file(out / "points.h5", points=8 * 4096)  # and 32,768 points
config = Hdf5IndexConfig.model_validate({   # the hdf5_index section of configs/hdf5_sample.yaml, in Python
    "sources": [{"kind": "replay", "paths": [str(out / "replay.h5")]},
                {"kind": "segments", "paths": [str(out / "points.h5")], "segment_size": 4096}],
    "output_root": str(out / "index"),
    "image_cache": {"size": 224},
})
build_index(config)  # index.h5, summary.json, scans/, image_cache/

with ReplaySampler(config.output_root, prefetch=2, image_size=224) as sampler:
    batch = sampler.sample(64)  # transitions: images, joint, action, next_*, reward, not_done, file, row
    print(f"replay batch: left_image {batch.left_image.shape}, action {batch.action.shape}")

segments = SegmentDataset(config.output_root, mode="lru", cache_files=5)
order = segments.epoch_order(seed=0)
points = collate_segments([segments[int(i)] for i in order[:8]])
print(f"{len(segments)} point-cloud segments; a batch of 8: {type(points).__name__}")
