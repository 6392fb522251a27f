"""Where converted bags wait for the final assembly, and the marker that says a bag is done.

Each bag is staged under `<output_root>/.staging/<repo_id>/<bag key>/`, its key derived from the bag's path,
size, modification time and the configuration that shapes its content. `bag.json`, written last, marks a
bag as finished, so a rerun skips it, and a crash leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dataprep.config import ConvertConfig
from dataprep.errors import DataprepError

STAGING_FOLDER = ".staging"
BAG_MARKER = "bag.json"


def staging_root(config: ConvertConfig) -> Path:
    return config.output_root / STAGING_FOLDER / config.repo_id


# settings that say where and how to run, not what a staged bag holds
_NOT_CONTENT = {"input", "output_root", "repo_id", "on_bag_error"}


def bag_key(bag: Path, config: ConvertConfig) -> str:
    """Stable for the same bag file and the same content-shaping settings; new when either changes."""
    files = [bag] if bag.is_file() else sorted(p for p in bag.rglob("*") if p.is_file())
    stamps = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    settings = config.model_dump_json(exclude=_NOT_CONTENT)
    identity = "|".join([str(bag.resolve()), *stamps, settings])
    return f"{bag.name.replace('.', '_')}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class EpisodeReport:
    """What one episode holds and how alignment went, kept for summaries and artifacts."""

    folder: str
    frames: int
    duration_s: float


@dataclass(frozen=True)
class BagConversion:
    """A finished bag: its staged episodes (in order) and the alignment report of the whole pass."""

    bag: str
    key: str
    episodes: tuple[EpisodeReport, ...]
    dims: dict[str, int]
    dropped: dict[str, int]
    trimmed: dict[str, int]
    filled_by_default: dict[str, int]
    max_offset_ms: dict[str, float]
    span_s: tuple[float, float]  # first and last kept tick, seconds after the bag's start
    notes: tuple[str, ...] = ()  # what was mended to read the bag (e.g. a stored definition replaced)
    stamp_problems: dict[str, int] = field(default_factory=dict)  # "topic: zero/absurd/late stamp" -> messages
    reused: bool = False

    @property
    def frames(self) -> int:
        return sum(e.frames for e in self.episodes)

    def save(self, folder: Path) -> None:
        """Write the marker atomically: it must never exist half-written."""
        data = asdict(self)
        data.pop("reused")
        tmp = folder / f".{BAG_MARKER}.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, folder / BAG_MARKER)

    @classmethod
    def load(cls, folder: Path) -> BagConversion:
        try:
            data: dict[str, Any] = json.loads((folder / BAG_MARKER).read_text())
            data["episodes"] = tuple(EpisodeReport(**e) for e in data["episodes"])
            data["span_s"] = tuple(data["span_s"])
            data["notes"] = tuple(data.get("notes", ()))
            return cls(**data, reused=True)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise DataprepError(f"staged bag {folder} has no readable {BAG_MARKER}: {err}") from err
