"""The helpers every stage shares: atomic writes and worker counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.errors import DataprepError
from dataprep.memory import resolve_workers
from dataprep.storage import atomic_path, write_json_atomic


def test_atomic_path_replaces_the_destination_only_when_the_block_succeeds(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "out.bin"
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"first")
    assert dest.read_bytes() == b"first"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert dest.read_bytes() == b"first"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["out.bin"]  # no temporary left behind


def test_write_json_atomic_round_trips(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "r.json", {"a": [1, 2], "é": "ü"})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2], "é": "ü"}


@pytest.mark.parametrize(("spec", "cpus", "expected"), [
    (3, 8, 3), (0, 8, 0), ("4", 8, 4), ("auto", 10, 8), ("auto", 1, 1), ("cpu*0.9", 10, 9),
    ("CPU * 0.5", 2, 1), ("cpu*0.1", 2, 1), ("cpus*2", 3, 6),
])
def test_resolve_workers_reads_ints_auto_and_ratios(spec: int | str, cpus: int, expected: int) -> None:
    assert resolve_workers(spec, cpus) == expected


@pytest.mark.parametrize("spec", ["many", "cpu*", "-1", -1, True])
def test_resolve_workers_names_what_it_cannot_read(spec: int | str) -> None:
    with pytest.raises(DataprepError, match="worker count"):
        resolve_workers(spec, 4)
