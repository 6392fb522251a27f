"""Copy each runnable example into the docs pages that quote it.

    python -m scripts.sync_examples            # rewrite the quoted blocks from docs/examples/*.py
    python -m scripts.sync_examples --check    # exit 1 when a page's copy differs (tests do this)

A page quotes an example with a marker line right before a fenced block:

    <!-- example: docs/examples/convert_sample.py -->
    ```python
    ...the file, exactly...
    ```

so the code a reader copies is the code `tests/test_docs_examples.py` runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
QUOTE = re.compile(r"(<!-- example: (docs/examples/[\w-]+\.py) -->\n```python\n)(.*?)(```)", re.S)


def synced(text: str) -> str:
    """The page with every quoted example replaced by its file's current content."""
    return QUOTE.sub(lambda m: m[1] + (PROJECT / m[2]).read_text() + m[4], text)


def quoted(text: str) -> list[str]:
    """The example paths a page quotes, in order."""
    return [m[2] for m in QUOTE.finditer(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a page's copy is stale")
    args = parser.parse_args(argv)
    stale = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        new = synced(text)
        if new != text:
            stale.append(page)
            if not args.check:
                page.write_text(new)
    for page in stale:
        print(f"{page.relative_to(PROJECT)}: {'stale' if args.check else 'updated'}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
