"""Where converted bags wait for the final assembly, and the marker that says a bag is done.

Each bag is staged under `<output_root>/.staging/<repo_id>/<bag key>/`, its key derived from the bag's path,
size, modification time, the staging formats and the configuration that shapes its content. `bag.json`,
written last, marks a bag as finished, so a rerun skips it, and a crash leaves nothing that looks finished.
A staged bag that cannot be read back, or was written in another format, is converted again, not a failure
(`reusable_conversion`). The run's lock file lives beside the staging, under `<output_root>/.locks/`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dataprep.config import ConvertConfig
from dataprep.config.bags import AnnotationSpec
from dataprep.config.models import DatasetSettings
from dataprep.errors import DataprepError
from dataprep.lerobot.episode_quality import EpisodeQuality
from dataprep.lerobot.episode_writer import STAGED_FORMAT, StagedEpisode
from dataprep.storage.fingerprint import Fingerprint
from dataprep.storage.lock import dataset_lock_path
from dataprep.storage.markers import write_marker

logger = logging.getLogger(__name__)

STAGING_FOLDER = ".staging"
BAG_MARKER = "bag.json"
BAG_FORMAT = 1  # the layout of bag.json; bump it when that changes (STAGED_FORMAT is the episodes')


def staging_root(config: ConvertConfig) -> Path:
    return config.output_root / STAGING_FOLDER / config.repo_id


def lock_path(config: ConvertConfig) -> Path:
    """The lock every run writing this dataset holds, from plan to finalize (`dataprep.storage.output_lock`)."""
    return dataset_lock_path(config.output_root, config.repo_id)


# Only what the dataset is (`DatasetSettings`) enters a staging key: a run setting (`RunSettings`: where, memory,
# parallelism, packing and committing, what is written after the run) acts after staging or on how fast it goes,
# so changing one keeps every staged bag. tests/test_staging.py checks both, and that the digest is unchanged.
_CONTENT_FIELDS = frozenset(DatasetSettings.model_fields)


def _content_json(config: ConvertConfig) -> str:
    return config.model_dump_json(include=set(_CONTENT_FIELDS))


def settings_hash(config: ConvertConfig) -> str:
    """A digest of the settings that shape a staged bag's content (provenance of every episode)."""
    return hashlib.sha256(_content_json(config).encode()).hexdigest()[:16]


def bag_files(bag: Path) -> list[Path]:
    """The files a bag is made of (one, or a rosbag2 folder's)."""
    return [bag] if bag.is_file() else sorted(p for p in bag.rglob("*") if p.is_file())


def sidecar_path(bag: Path, spec: AnnotationSpec) -> Path:
    """The annotation file of a bag: `spec.file` beside it, `{stem}` being the name without suffixes."""
    stem = bag.name.split(".", 1)[0] if bag.is_file() else bag.name
    return bag.parent / spec.file.format(stem=stem, name=bag.name)


def bag_key(bag: Path, config: ConvertConfig) -> str:
    """Stable for the same bag file (and annotation file), content-shaping settings and staged format; new when
    any changes, so a rerun after an upgrade converts the bag again instead of reusing what it cannot read."""
    files = bag_files(bag)
    if config.episodes.annotations and (sidecar := sidecar_path(bag, config.episodes.annotations)).is_file():
        files.append(sidecar)
    stamps = [Fingerprint.of(p).stamp(p.name) for p in files]
    settings = _content_json(config)
    identity = "|".join([f"format {STAGED_FORMAT}.{BAG_FORMAT}", str(bag.resolve()), *stamps, settings])
    return f"{bag.name.replace('.', '_')}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class EpisodeReport:
    """What one episode holds, where it comes from in the bag, and how good it is."""

    folder: str
    frames: int
    duration_s: float
    task: str = ""
    span_s: tuple[float, float] = (0.0, 0.0)  # first and last tick, seconds after the bag's start
    quality: EpisodeQuality | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeReport:
        quality = data.get("quality")
        return cls(data["folder"], data["frames"], data["duration_s"], data.get("task", ""),
                   tuple(data.get("span_s", (0.0, 0.0))),
                   EpisodeQuality.from_dict(quality) if quality else None)


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
    excluded: tuple[EpisodeReport, ...] = ()  # failed the quality thresholds with quality.on_failing: exclude
    reused: bool = False

    @property
    def frames(self) -> int:
        return sum(e.frames for e in self.episodes)

    def save(self, folder: Path) -> None:
        """Write the marker last, after every staged file under `folder` is on disk (`write_marker`): it must
        never exist half-written, nor before the episodes it marks."""
        data = {"format": BAG_FORMAT, **asdict(self)}
        data.pop("reused")
        write_marker(folder, BAG_MARKER, data)

    @classmethod
    def load(cls, folder: Path) -> BagConversion:
        try:
            data: dict[str, Any] = json.loads((folder / BAG_MARKER).read_text())
            if data.pop("format", None) != BAG_FORMAT:
                raise ValueError(f"written in another staging format (this version writes {BAG_FORMAT})")
            data["episodes"] = tuple(EpisodeReport.from_dict(e) for e in data["episodes"])
            data["excluded"] = tuple(EpisodeReport.from_dict(e) for e in data.get("excluded", ()))
            data["span_s"] = tuple(data["span_s"])
            data["notes"] = tuple(data.get("notes", ()))
            return cls(**data, reused=True)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise DataprepError(f"staged bag {folder} has no readable {BAG_MARKER}: {err}") from err


def reusable_conversion(folder: Path) -> BagConversion | None:
    """The finished conversion staged in `folder`, or None when there is none to reuse.

    A marker that cannot be read, is of another format, or lists an episode that cannot be read back is what an
    older version, a damaged disk or a hand edit left: the bag is converted again (and the log says why) rather
    than failing the run or, worse, assembling it.
    """
    if not (folder / BAG_MARKER).exists():
        return None
    try:
        conversion = BagConversion.load(folder)
        for episode in conversion.episodes:
            StagedEpisode.load(folder / episode.folder)
    except DataprepError as err:
        logger.warning("%s: converting the bag again: %s", folder, err)
        return None
    return conversion
