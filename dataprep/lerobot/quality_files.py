"""The dataset's quality files, typed: a constant-size head of totals and one append-only part per commit.

Layout (format 2; lerobot reads neither file, nor our validator, nor edit/source.py):

    meta/quality.json               the head: the dataset's totals (QualityTotals) and how many parts it has
    meta/quality/part-000000.jsonl  one entry (QualityEntry) a line, the episodes a commit added, then the
    meta/quality/part-000001.jsonl  episodes it left out (`excluded`: they have no episode_index)

An append writes only its own part and a new head computed from the previous head and the new entries
alone (counts, sums, minima, per-topic worst: every total is aggregatable), so what it reads and writes does
not grow with the dataset. The failing episodes' numbers grow with it: the head keeps their count only, and
`QualityDocument.failing_episodes` reads the parts (an edit or the viewer reads them all anyway). Committed
parts are hard-linked into the next version as they are; a part whose number is not below the head's
`parts` is not this version's and is ignored. Format 1 (one quality.json holding every entry, written before)
is read as a whole; the first append writes its entries as part 0 and goes on in format 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.lerobot.quality_record import (
    QUALITY_FORMAT,
    BagFile,
    Provenance,
    QualityDocument,
    QualityEntry,
    QualityTotals,
    TopicTotals,
    Trim,
)

__all__ = [
    "QUALITY_PARTS", "QUALITY_PATH", "BagFile", "Provenance", "QualityDocument", "QualityEntry", "QualityTotals",
    "TopicTotals", "Trim", "appended_files", "document_files", "encode_head", "encode_part", "part_path",
    "read_document", "read_head", "read_latest",
]  # fmt: skip

QUALITY_PATH = "meta/quality.json"
QUALITY_PARTS = "meta/quality"  # part-NNNNNN.jsonl, one per commit


def part_path(index: int) -> str:
    return f"{QUALITY_PARTS}/part-{index:06d}.jsonl"


def encode_part(entries: Iterable[QualityEntry]) -> bytes:
    """A part as written: one entry a line (the round trip of `QualityEntry.from_json` gives these bytes)."""
    return "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries).encode()


def encode_head(totals: QualityTotals) -> bytes:
    """meta/quality.json as written."""
    return (json.dumps(totals.to_json(), indent=2, ensure_ascii=False) + "\n").encode()


def document_files(document: QualityDocument) -> dict[str, bytes]:
    """The whole document as one part plus its head (a rebuild, an edit, adoption, a migration)."""
    totals = replace(document.totals, parts=1)
    return {part_path(0): encode_part([*document.episodes, *document.excluded]), QUALITY_PATH: encode_head(totals)}


def appended_files(root: Path | None, repo_id: str, entries: Sequence[QualityEntry], dropped: Mapping[str, int],
                   settings_hash: str, thresholds: dict[str, Any] | None) -> dict[str, bytes]:
    """What an append writes: its own part and the new head, from the committed head at `root` (None: a new
    dataset); the committed parts are linked as they are (`APPENDED_FOLDERS` in committed.py). A format-1
    report is migrated: its entries become part 0 (read whole, once)."""
    previous = read_head(root) if root is not None else None
    if root is None or previous is None:
        return document_files(QualityDocument.of(repo_id, _numbered(entries, 0), dropped, settings_hash, thresholds))
    files: dict[str, bytes] = {}
    if previous.parts == 0:  # format 1: every entry sits in quality.json
        old = read_document(root)
        assert old is not None
        files.update(document_files(old))
        previous = replace(old.totals, parts=1)
    numbered = _numbered(entries, previous.episodes)
    totals = replace(previous.added(numbered, dropped), repo_id=repo_id, settings_hash=settings_hash,
                     thresholds=thresholds, parts=previous.parts + 1)
    files[part_path(previous.parts)] = encode_part(numbered)
    files[QUALITY_PATH] = encode_head(totals)
    return files


def _numbered(entries: Sequence[QualityEntry], first: int) -> list[QualityEntry]:
    """The new entries numbered after the committed episodes, the excluded ones after them."""
    kept = [e for e in entries if e.episode_index is not None]
    return [*(replace(e, episode_index=first + i) for i, e in enumerate(kept)),
            *(e for e in entries if e.episode_index is None)]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataprepError(f"{path} is unreadable ({err}); rebuild the dataset (mode: rebuild)") from err


def _v1_document(data: Mapping[str, Any]) -> QualityDocument:
    d = data["dataset"]
    entries = [QualityEntry.from_json(e) for e in data.get("episodes", [])]
    excluded = [QualityEntry.from_json({**e, "episode_index": None}) for e in data.get("excluded", [])]
    return QualityDocument.of(str(d.get("repo_id", "")), [*entries, *excluded], d.get("dropped") or {},
                              str(d.get("settings_hash") or ""), d.get("thresholds"))


def read_head(root: Path) -> QualityTotals | None:
    """The committed totals (constant size; a format-1 report is read whole); None without a report."""
    path = Path(root) / QUALITY_PATH
    if not path.is_file():
        return None
    data = _load_json(path)
    try:
        if data.get("format") == QUALITY_FORMAT:
            return QualityTotals.from_json(data)
        return replace(_v1_document(data).totals, parts=0)  # parts 0: not yet in parts
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataprepError(f"{path} is unreadable ({err!r}); rebuild the dataset (mode: rebuild)") from err


def read_document(root: Path) -> QualityDocument | None:
    """The head and every entry of the committed parts (or a format-1 report); None without a report."""
    path = Path(root) / QUALITY_PATH
    if not path.is_file():
        return None
    data = _load_json(path)
    try:
        if data.get("format") != QUALITY_FORMAT:
            return _v1_document(data)
        totals = QualityTotals.from_json(data)
        entries: list[QualityEntry] = []
        for index in range(totals.parts):  # later parts (none, after a swap) are not this version's
            part = Path(root) / part_path(index)
            try:
                text = part.read_text(encoding="utf-8")
            except OSError as err:
                raise DataprepError(f"{part}: missing or unreadable ({err}); rebuild the dataset") from err
            entries += [QualityEntry.from_json(json.loads(line)) for line in text.splitlines() if line]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataprepError(f"{path} or its parts are unreadable ({err!r}); rebuild the dataset") from err
    return QualityDocument(totals, tuple(e for e in entries if e.episode_index is not None),
                           tuple(e for e in entries if e.episode_index is None))


def read_latest(root: Path) -> QualityDocument | None:
    """The totals and the entries of the last commit alone (a run's report): constant cost."""
    totals = read_head(root)
    if totals is None:
        return None
    if totals.parts == 0:  # format 1: no parts, every entry is in the head's file
        return read_document(root)
    part = Path(root) / part_path(totals.parts - 1)
    try:
        entries = [QualityEntry.from_json(json.loads(line))
                   for line in part.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataprepError(f"{part}: missing or unreadable ({err!r}); rebuild the dataset") from err
    return QualityDocument(totals, tuple(e for e in entries if e.episode_index is not None),
                           tuple(e for e in entries if e.episode_index is None))
