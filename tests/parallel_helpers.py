"""What the parallel-conversion tests share: tiny Kuavo-like bags, their configuration, a dataset's content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dataprep.config import ConvertConfig, load_config
from dataprep.lerobot.video import read_video_frames
from dataprep.sample import KuavoBagSpec, write_kuavo_bag

PROJECT = Path(__file__).resolve().parents[1]


def write_bags(folder: Path, count: int = 8) -> Path:
    """`count` bags of 0.8-1.5 s, 64x48 cameras: a few frames each, different lengths."""
    for i in range(count):
        write_kuavo_bag(folder / f"bag_{i}.bag", KuavoBagSpec(duration_s=0.8 + 0.1 * i, width=64, height=48))
    return folder


def kuavo_config(bags: Path, out: Path, *overrides: str) -> ConvertConfig:
    return load_config(ConvertConfig, PROJECT / "configs/kuavo.yaml",
                       [f"input.bags={bags}", f"output_root={out}", "repo_id=test/parallel", *overrides])


def dataset_content(root: Path) -> dict[str, Any]:
    """Every file of a dataset as what a reader sees: parquet rows, decoded frames (hashed), parsed JSON."""
    content: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if path.suffix == ".parquet":
            content[name] = pq.read_table(path).to_pylist()
        elif path.suffix == ".mp4":
            content[name] = [hashlib.sha1(frame.tobytes()).hexdigest() for frame in read_video_frames(path)]
        elif path.suffix == ".json":
            content[name] = json.loads(path.read_text())
        else:
            content[name] = path.read_bytes()
    return content
