"""Write the viewer: static pages, a compact index of every episode, and one small data file per episode.

Pages load their data as `<script>` files (`window.VIEWER_INDEX = ...`), not with fetch(), because a browser
refuses fetch() on file:// pages; the same files work served over http. Videos are not copied or re-encoded:
the viewer holds a relative symbolic link `dataset` to the dataset root and the pages point at the dataset's
own mp4s through it, each episode seeking to its span (`from_timestamp`..`to_timestamp`) inside its packed file.
The viewer is built in a temporary folder beside `out` and swapped in whole, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np

from dataprep.lerobot.quality_files import QualityDocument
from dataprep.storage.swap import discard_tmp, swap_into_place, tmp_folder
from dataprep.viewer.errors import ViewerError
from dataprep.viewer.series import EpisodeSeries, SeriesReader
from dataprep.viewer.source import DatasetMeta, EpisodeRow, iter_episodes, read_meta, read_quality

logger = logging.getLogger(__name__)

MARKER = "viewer.json"  # written last: what the viewer shows and where from; marks a folder as ours to replace
DATASET_LINK = "dataset"  # the link from the viewer to the dataset root
STATIC_FILES = ("index.html", "episode.html", "viewer.css", "common.js", "index.js", "episode.js", "plot.js")


@dataclass(frozen=True)
class ViewerSummary:
    """A written viewer: where its index page is, what it shows, and how long writing took."""

    out: Path
    root: Path
    episodes: int
    frames: int
    seconds: float
    linked: bool  # the dataset is reached through the `dataset` link (False: a relative path)

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    @property
    def serve_dir(self) -> Path:
        """The folder a web server must serve so every page and video is reachable."""
        return self.out if self.linked else Path(os.path.commonpath([self.out, self.root]))

    def text(self) -> str:
        return (f"wrote the viewer of {self.root} ({self.episodes} episodes, {self.frames} frames) in "
                f"{self.seconds:.1f} s: open {self.index}\n(or serve it: python -m flows.view_dataset "
                f"{self.root} --out {self.out} --serve)")


def read_viewer(out: Path) -> ViewerSummary | None:
    """The viewer written at `out`, from its marker; None where there is none (or it is unreadable)."""
    try:
        marker = json.loads((Path(out) / MARKER).read_text(encoding="utf-8"))
        return ViewerSummary(Path(out).absolute(), Path(marker["dataset"]), int(marker["episodes"]),
                             int(marker["frames"]), 0.0, marker.get("dataset_href") == DATASET_LINK)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def default_out(root: Path) -> Path:
    """`<root>-viewer` beside the dataset: outside it, since a conversion replaces the dataset folder whole."""
    root = Path(root).absolute()
    return root.parent / f"{root.name}-viewer"


def _numbers(array: np.ndarray) -> str:
    """A JSON array of floats in 6 significant digits, null where not finite."""
    return "[" + ",".join(f"{v:.6g}" if math.isfinite(v) else "null" for v in array.tolist()) + "]"


def _js(name: str, document: Any) -> str:
    return f"window.{name} = {json.dumps(document, separators=(',', ':'), ensure_ascii=False)};\n"


def _episode_js(meta: DatasetMeta, row: EpisodeRow, series: EpisodeSeries, quality: dict[str, Any] | None,
                href: str) -> str:
    head = {
        "index": row.index, "length": row.length, "fps": meta.info.fps, "tasks": list(row.tasks),
        "total": meta.info.total_episodes, "bucket": series.bucket, "points": series.points,
        "videos": [{"key": v.key, "src": f"{href}/{v.path}", "from": v.from_s, "to": v.to_s,
                    "codec": (meta.info.features[v.key].info or {}).get("video.codec")} for v in row.videos],
        "quality": quality,
    }
    features = []
    for vector in meta.vectors:
        if vector.key not in series.low:
            continue
        low = "[" + ",".join(_numbers(a) for a in series.low[vector.key]) + "]"
        high = "null" if series.bucket == 1 else "[" + ",".join(_numbers(a) for a in series.high[vector.key]) + "]"
        features.append(f'{{"key":{json.dumps(vector.key)},"names":{json.dumps(list(vector.names))},'
                        f'"low":{low},"high":{high}}}')
    body = json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1]
    return f"window.VIEWER_EPISODE = {body},\"features\":[{','.join(features)}]}};\n"


def _index_head(meta: DatasetMeta, quality_totals: dict[str, Any] | None) -> dict[str, Any]:
    info = meta.info
    return {
        "name": meta.root.name, "root": str(meta.root), "fps": info.fps, "robot_type": info.robot_type,
        "total_episodes": info.total_episodes, "total_frames": info.total_frames, "tasks": list(meta.tasks),
        "cameras": list(meta.video_keys), "image_cameras": list(meta.image_keys),
        "features": [v.key for v in meta.vectors], "quality": quality_totals,
        "columns": ["episode", "length", "tasks", "score", "failing", "reasons", "dropped"],
    }


def _index_row(row: EpisodeRow, quality: dict[str, Any] | None) -> list[Any]:
    q = (quality or {}).get("quality") or {}
    return [row.index, row.length, list(row.tasks), q.get("score"), list(q.get("failing", ())),
            list(q.get("reasons", ())), dict(q.get("dropped", {}))]


def _link_dataset(out: Path, root: Path) -> str:
    """The href from the pages to the dataset: the `dataset` link, or a relative path where links fail."""
    # `out` is the tmp folder, beside the final one: the same relative path serves both
    relative = (Path("..") / os.path.relpath(root, out.parent)).as_posix()
    try:
        (out / DATASET_LINK).symlink_to(relative, target_is_directory=True)
        return DATASET_LINK
    except OSError as err:
        logger.warning("cannot link %s to %s (%s); the pages use a relative path instead", out, root, err)
        return relative


def _check_out(out: Path, root: Path) -> None:
    if out.resolve().is_relative_to(root.resolve()):
        raise ViewerError(f"{out}: the viewer must live outside the dataset {root} (a conversion replaces the "
                          f"dataset folder whole); pass another --out, e.g. {default_out(root)}")
    if out.is_symlink() or out.is_file():
        raise ViewerError(f"{out} is not a folder; pass another --out")
    if out.exists() and not (out / MARKER).is_file():
        raise ViewerError(f"{out} exists and is not a viewer (no {MARKER}); it is left alone: pass another --out")


def write_viewer(root: Path, out: Path | None = None) -> ViewerSummary:
    """Write the viewer of the dataset at `root` into `out` (default `<root>-viewer`), replacing an older one."""
    started = time.monotonic()
    root = Path(root).absolute()
    out = Path(out).absolute() if out is not None else default_out(root)
    meta = read_meta(root)
    _check_out(out, root)
    quality_document = _quality_json(read_quality(root))
    tmp = tmp_folder(out)
    discard_tmp(out, MARKER)
    (tmp / "data" / "episodes").mkdir(parents=True)
    try:
        static = resources.files("dataprep.viewer") / "static"
        for name in STATIC_FILES:
            (tmp / name).write_bytes((static / name).read_bytes())
        href = _link_dataset(tmp, root)
        with (tmp / "data" / "index.js").open("w", encoding="utf-8") as index:
            episodes, frames = _write_episodes(meta, quality_document, href, tmp, index)
        marker = {"dataset": str(root), "episodes": episodes, "frames": frames, "dataset_href": href}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        discard_tmp(out, MARKER)
        raise
    swap_into_place(tmp, out)
    seconds = time.monotonic() - started
    logger.info("wrote the viewer of %s to %s: %d episodes in %.1f s", root, out, episodes, seconds)
    return ViewerSummary(out, root, episodes, frames, seconds, href == DATASET_LINK)


def _quality_json(document: QualityDocument | None) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]]]:
    """The report as the pages read it: the totals (with the failing episodes' numbers) and each entry."""
    if document is None:
        return None, {}
    totals = {**document.totals.to_json()["dataset"], "failing_episodes": document.failing_episodes}
    return totals, {e.episode_index: e.to_json() for e in document.episodes if e.episode_index is not None}


def _write_episodes(meta: DatasetMeta, quality: tuple[dict[str, Any] | None, dict[int, dict[str, Any]]],
                    href: str, tmp: Path, index: IO[str]) -> tuple[int, int]:
    """The index (one line per episode) and each episode's page data, one episode in memory at a time."""
    totals, entries = quality
    head = json.dumps(_index_head(meta, totals), separators=(",", ":"), ensure_ascii=False)[:-1]
    index.write(f'window.VIEWER_INDEX = {head},"href":{json.dumps(href)},"episodes":[\n')
    reader = SeriesReader(meta)
    episodes = frames = 0
    for row in iter_episodes(meta):
        entry = entries.get(row.index)
        series = reader.series(row)
        text = _episode_js(meta, row, series, entry.get("quality") if entry else None, href)
        (tmp / "data" / "episodes" / f"ep-{row.index:06d}.js").write_text(text, encoding="utf-8")
        index.write(("," if episodes else "") + json.dumps(_index_row(row, entry), separators=(",", ":"),
                                                           ensure_ascii=False) + "\n")
        episodes, frames = episodes + 1, frames + row.length
    index.write("]};\n")
    return episodes, frames

