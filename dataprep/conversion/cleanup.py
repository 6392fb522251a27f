"""Removing staged bags no plan will use again: `python -m flows.rosbag_to_lerobot --clean-staging [--dry-run]`.

A staged bag's folder is named by its key (the bag's path, size, mtime, the staging formats and the
content-shaping settings), so a bag that was removed from the input, re-recorded, or staged under settings
changed since, leaves a folder no run will read again. This removes exactly those: every folder under the
dataset's staging root whose name is not the key of a bag in the configured input under the configured
settings. It holds the dataset's lock, so it never races a run that is staging bags right now.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConvertConfig
from dataprep.conversion.dataset import conversion_lock, with_absolute_paths
from dataprep.conversion.staging import bag_key, staging_root
from dataprep.rosbag import find_bags

logger = logging.getLogger(__name__)

_KEY = re.compile(r"-[0-9a-f]{12}$")  # what bag_key ends with: other folders are not staged bags, left alone


@dataclass(frozen=True)
class StagingCleanup:
    """What a cleanup removed (or, in a dry run, would remove) and what it kept."""

    root: Path
    removed: tuple[Path, ...]
    kept: tuple[Path, ...]
    freed_bytes: int
    dry_run: bool

    def text(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        head = (f"{self.root}: {verb} {len(self.removed)} staged bag(s) no longer in the plan "
                f"({self.freed_bytes / 1e6:.1f} MB), kept {len(self.kept)}")
        return "\n".join([head, *(f"  - {path.name}" for path in self.removed)])


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def clean_staging(config: ConvertConfig, dry_run: bool = False) -> StagingCleanup:
    """Remove the staged bags of `config`'s dataset that no bag of its input maps to; keep every planned one."""
    config = with_absolute_paths(config)
    root = staging_root(config)
    with conversion_lock(config):
        planned = {bag_key(bag, config) for bag in find_bags(config.input.bags)}
        folders = sorted(p for p in root.iterdir() if p.is_dir() and _KEY.search(p.name)) if root.is_dir() else []
        orphans = [folder for folder in folders if folder.name not in planned]
        freed = sum(_size(folder) for folder in orphans)
        for folder in orphans if not dry_run else ():
            logger.info("removing staged bag %s: not in the plan of %s", folder, config.repo_id)
            shutil.rmtree(folder)
    kept = tuple(folder for folder in folders if folder.name in planned)
    return StagingCleanup(root, tuple(orphans), kept, freed, dry_run)
