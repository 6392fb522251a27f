"""Artifact helpers shared by the tasks: valid keys and the memory table every task records."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from dataprep.memory import take_snapshot

_INVALID = re.compile(r"[^a-z0-9-]+")
MAX_KEY_LENGTH = 100


def artifact_key(*parts: object) -> str:
    """A key Prefect accepts (`^[a-z0-9-]*$`) built from free text such as repo ids and bag names.

    A key too long to keep whole is cut and ends with a digest of the whole, so distinct keys stay distinct.
    """
    key = re.sub(r"-{2,}", "-", "-".join(_INVALID.sub("-", str(part).lower()).strip("-") for part in parts))
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{key[: MAX_KEY_LENGTH - len(digest) - 1].strip('-')}-{digest}"


def record_memory(stage: str, *key_parts: object) -> None:
    """One-row memory table for a task that has no chunks of its own (plan, finalize)."""
    row = {"stage": stage, **take_snapshot().as_row()}
    create_table_artifact([row], key=artifact_key("memory", *key_parts, stage), description=f"Memory after {stage}")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table of rows that share their keys; '(none)' for no rows."""
    if not rows:
        return "(none)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def record_markdown(markdown: str, key: str, description: str) -> None:
    create_markdown_artifact(markdown, key=key, description=description)
