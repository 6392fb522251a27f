"""A staged episode on disk: its folder layout, its record (episode.json), and how to remove it.

Staging folder layout (all names relative to the episode's folder):

    data.parquet        rows: user features (+ PNG images in image mode), timestamp, frame_index; row groups
                        of at most `chunk_size` frames (and, in image mode, about ROW_GROUP_BYTES of PNG);
                        written as `.data.parquet.tmp` first
    videos/<key>.mp4    one per camera in video mode, encoded while frames arrive (VideoEncoder's tmp+rename)
    episode.json        the StagedEpisode record, written last: its presence marks a complete episode
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.lerobot.episode_quality import EpisodeQuality
from dataprep.lerobot.stats import FeatureStats
from dataprep.lerobot.video import VideoInfo
from dataprep.storage.markers import write_marker

DATA_FILE = "data.parquet"  # the episode's rows
DATA_TMP_FILE = ".data.parquet.tmp"  # the rows while being written; has no footer until closed
VIDEO_DIR = "videos"  # one `<key>.mp4` per camera
MARKER_FILE = "episode.json"  # StagedEpisode record; written last, so it marks completion
# Bumped when a staged episode changes incompatibly; part of every staging key (2: exact stats, lerobot's image counts).
# Not bumped for `quality` (which replaced an opaque `extra` the conversion always left empty): an episode.json
# staged before has `"extra": {}` and no `quality` and reads back as it was (quality None): bumping would
# change every staging key and convert every staged bag again for nothing.
STAGED_FORMAT = 2


@dataclass(frozen=True)
class StagedEpisode:
    """A finished staged episode; also saved as the folder's episode.json (written last)."""

    folder: Path
    length: int
    task: str
    source: str  # the bag the episode came from, for messages
    camera_shapes: dict[str, tuple[int, int, int]]  # camera key -> (h, w, 3)
    videos: dict[str, VideoInfo]  # empty in image mode
    stats: dict[str, FeatureStats]  # user features + timestamp + frame_index
    quality: EpisodeQuality | None = None  # measured while the bag streamed (conversion/quality.py)

    @property
    def data_path(self) -> Path:
        return self.folder / DATA_FILE

    def video_path(self, key: str) -> Path:
        return self.folder / VIDEO_DIR / f"{key}.mp4"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STAGED_FORMAT,
            "length": self.length,
            "task": self.task,
            "source": self.source,
            "camera_shapes": {k: list(v) for k, v in self.camera_shapes.items()},
            "videos": {k: dataclasses.asdict(v) for k, v in self.videos.items()},
            "stats": {k: v.to_dict() for k, v in self.stats.items()},
            "quality": self.quality.to_dict() if self.quality else None,
        }

    @classmethod
    def from_json(cls, folder: Path, d: Mapping[str, Any]) -> StagedEpisode:
        if d.get("format") != STAGED_FORMAT:
            raise ValueError(
                f"format {d.get('format')!r} where this version writes {STAGED_FORMAT} (its statistics "
                "follow other conventions); remove the staging folder to convert the bag again"
            )
        return cls(
            folder=Path(folder),
            length=int(d["length"]),
            task=str(d["task"]),
            source=str(d["source"]),
            camera_shapes={k: (int(v[0]), int(v[1]), int(v[2])) for k, v in d["camera_shapes"].items()},
            videos={k: VideoInfo(**v) for k, v in d["videos"].items()},
            stats={k: FeatureStats.from_dict(v) for k, v in d["stats"].items()},
            quality=EpisodeQuality.from_dict(d["quality"]) if d.get("quality") else None,
        )

    @classmethod
    def load(cls, folder: Path) -> StagedEpisode:
        """Read a staged episode back; raises DataprepError naming the folder if it is not complete."""
        marker = Path(folder) / MARKER_FILE
        try:
            with marker.open(encoding="utf-8") as f:
                return cls.from_json(Path(folder), json.load(f))
        except FileNotFoundError:
            raise DataprepError(
                f"{folder}: not a finished staged episode ({MARKER_FILE} is missing)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
            raise DataprepError(f"{folder}: {MARKER_FILE} is corrupt: {err!r}") from err

    def save(self) -> None:
        """Write episode.json last, after the episode's rows and videos are on disk (`write_marker`), so a
        crash or a power cut never leaves a marker, whole or half, for data the disk does not hold."""
        write_marker(self.folder, MARKER_FILE, self.to_json(), indent=1)


def remove_staged(folder: Path) -> None:
    """Delete what an EpisodeWriter may have put in `folder` (marker first), and the folder if then empty."""
    (folder / MARKER_FILE).unlink(missing_ok=True)
    for tmp in folder.glob(f".{MARKER_FILE}.*tmp"):  # a marker's temporary name, left by a killed write
        tmp.unlink(missing_ok=True)
    for name in (DATA_FILE, DATA_TMP_FILE):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / VIDEO_DIR, ignore_errors=True)
    with contextlib.suppress(OSError):  # absent, or holds files that are not ours
        folder.rmdir()
