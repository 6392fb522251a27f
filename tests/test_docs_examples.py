"""Every runnable example the docs quote (docs/examples/*.py) runs as written, and the pages quote it exactly.

Each example runs in its own process, as a reader would run it from the project folder, writing into the test's
temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((PROJECT / "docs" / "examples").glob("*.py"))


def load_sync() -> ModuleType:
    """scripts/ is not an installed package: load scripts/sync_examples.py from its file."""
    spec = importlib.util.spec_from_file_location("sync_examples", PROJECT / "scripts" / "sync_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_the_docs_example_runs(example: Path, tmp_path: Path) -> None:
    path = os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(example), str(tmp_path)], cwd=PROJECT, capture_output=True,
                          env=os.environ | {"PYTHONPATH": path}, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"{example.name} printed nothing"


def test_every_example_is_quoted_exactly_by_a_docs_page() -> None:
    sync = load_sync()
    pages = {page: page.read_text() for page in sorted((PROJECT / "docs").glob("*.md"))}
    quoted = {name for text in pages.values() for name in sync.quoted(text)}
    examples = {f"docs/examples/{path.name}" for path in EXAMPLES}
    assert quoted == examples, "an example no page quotes, or a page quoting a missing example"
    stale = [page.name for page, text in pages.items() if sync.synced(text) != text]
    assert not stale, f"{stale} quote an older copy of an example: run `python -m scripts.sync_examples`"
