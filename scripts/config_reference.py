"""Write docs/configuration-reference.md from the configuration models' fields and their descriptions.

    python -m scripts.config_reference            # rewrite the page
    python -m scripts.config_reference --check    # exit 1 when the committed page is stale (tests do this)

The page is generated, never edited by hand: every section and field of `PipelineConfig` (and the `loader`
block, which a training job loads alone), with its type, constraints, default and `description=`. It walks the
models' fields recursively, so it does not depend on which module a model lives in: a new section, a moved
model or a new field shows up after one run of this command.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

PROJECT = Path(__file__).resolve().parents[1]
PAGE = PROJECT / "docs" / "configuration-reference.md"
COMMAND = "python -m scripts.config_reference"


@dataclass(frozen=True)
class Section:
    """One model reached from a root, at its dotted key path (`rosbag_to_lerobot.features.<name>.parts[]`)."""

    path: str
    model: type[BaseModel]


def roots() -> list[tuple[str, type[BaseModel], str]]:
    """The documents a user writes: the pipeline file, and the DataLoader block loaded on its own."""
    from dataprep.config import LoaderSpec, PipelineConfig

    return [
        ("", PipelineConfig, ("The pipeline file `python -m flows.convert_all --config FILE` reads "
                              "(configs/default.yaml when no --config is given).")),
        ("loader", LoaderSpec, ("A training job's DataLoader block, loaded alone with "
                                "`load_config(LoaderSpec, path)` ([memory.md](memory.md)).")),
    ]


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _strip(annotation: Any) -> Any:
    """`Annotated[X, ...]` -> X."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = _args(annotation)[0]
    return annotation


def _models_in(annotation: Any, path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models a field's type holds, with the key path each one is written at."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield path, annotation
    elif _is_union(annotation):
        for arg in _args(annotation):
            yield from _models_in(arg, path)
    elif origin is dict:
        yield from _models_in(_args(annotation)[1], f"{path}.<name>")
    elif origin in (tuple, list, set, frozenset):
        for arg in _args(annotation):
            if arg is not Ellipsis:
                yield from _models_in(arg, f"{path}[]")


def walk(prefix: str, model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> Iterator[Section]:
    """Every model below `model`, depth first in field order, each once (the first path that reaches it)."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield Section(prefix, model)
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        for path, child in _models_in(field.annotation, key):
            yield from walk(path, child, seen)


_SCALARS = {str: "str", int: "int", float: "float", bool: "bool", Path: "path", type(None): "null"}


def type_name(annotation: Any) -> str:
    """A type as a user writes it in YAML: `int | "auto"`, `list of str`, `mapping str -> CameraSpec`."""
    annotation = _strip(annotation)
    origin, args = typing.get_origin(annotation), _args(annotation)
    if origin is typing.Literal:
        text = " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    elif _is_union(annotation):
        text = " | ".join(type_name(arg) for arg in args)
    elif origin is dict:
        text = f"mapping {type_name(args[0])} -> {type_name(args[1])}"
    elif origin in (tuple, list, set, frozenset):
        items = [a for a in args if a is not Ellipsis]
        homogeneous = len(items) == 1 and (origin is not tuple or Ellipsis in args)
        text = f"list of {type_name(items[0])}" if homogeneous else "[" + ", ".join(map(type_name, items)) + "]"
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        text = " | ".join(f'"{member.value}"' for member in annotation)
    elif isinstance(annotation, type):
        text = _SCALARS.get(annotation, annotation.__name__)  # a model: its name, the heading says where it is
    else:
        text = str(annotation).replace("typing.", "")
    return text


_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "at least", "max_length": "at most",
           "pattern": "matches"}


def constraints(field: FieldInfo) -> list[str]:
    """The field's checks that pydantic enforces, as `> 0`, `at least 1`, `matches ^...$`."""
    found = []
    for item in field.metadata:
        for attr, word in _BOUNDS.items():
            value = getattr(item, attr, None)
            if value is not None:
                found.append(f"{word} `{value}`" if attr == "pattern" else f"{word} {value}")
    return found


def default_text(field: FieldInfo) -> str:
    """The default as YAML would spell it; `required` when there is none."""
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(its defaults)"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, tuple | list):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    return f"`{value}`"


def _paths_of(model: type[BaseModel], prefix: str) -> list[str]:
    """Every key path below the root named `prefix` where `model` is written (AlignSpec appears at three)."""
    found = []

    def visit(path: str, current: type[BaseModel], trail: tuple[type[BaseModel], ...]) -> None:
        if current is model:
            found.append(path)
        for name, field in current.model_fields.items():
            key = f"{path}.{name}" if path else name
            for child_path, child in _models_in(field.annotation, key):
                if child not in trail:
                    visit(child_path, child, (*trail, child))

    for root_prefix, root, _ in roots():
        if root_prefix == prefix:
            visit(prefix, root, (root,))
    return found


def _escape(text: str) -> str:
    """`<name>` outside code spans would be read as an HTML tag and vanish: escape it there only."""
    spans = text.split("`")
    return "`".join(span if i % 2 else re.sub(r"<(?=[A-Za-z/])", "&lt;", span) for i, span in enumerate(spans))


def _cell(text: str) -> str:
    return _escape(" ".join(text.split()).replace("|", "\\|"))


def _summary(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    if doc.startswith(("A base class for creating Pydantic models", "!!! abstract")):
        return ""
    return "\n".join(line.strip() for line in doc.strip().splitlines())


def _kinds(model: type[BaseModel]) -> dict[str, str]:
    """Field -> the one word (`SETTINGS_KIND`) of the base model that declares it, for a model composed of
    such bases (`ConvertConfig`: `content` settings shape the staged bags, `run` settings do not)."""
    kinds: dict[str, str] = {}
    for base in model.__mro__:
        word = base.__dict__.get("SETTINGS_KIND")
        if isinstance(word, str) and isinstance(base, type) and issubclass(base, BaseModel):
            kinds.update(dict.fromkeys(base.model_fields, word))
    return kinds


def _section_lines(prefix: str, intro: str, section: Section) -> list[str]:
    """One model's heading, what it is, and a row per field."""
    lines = [f"## `{section.path or '(top level)'}`", ""]
    where = f"Model `{section.model.__name__}`."
    others = [f"`{path}`" for path in _paths_of(section.model, prefix) if path != section.path]
    if others:
        where += f" Also written at {', '.join(others)}."
    lines += [where, ""]
    if section.path == prefix:
        lines += [intro, ""]
    if summary := _summary(section.model):
        lines += [_escape(summary), ""]
    kinds = _kinds(section.model)
    lines += (["| key | type | default | setting | description |", "|---|---|---|---|---|"] if kinds
              else ["| key | type | default | description |", "|---|---|---|---|"])
    for name, field in section.model.model_fields.items():
        kind = type_name(field.annotation)
        if checks := constraints(field):
            kind += f" ({', '.join(checks)})"
        setting = f" {kinds[name]} |" if kinds else ""
        lines.append(f"| `{name}` | {_cell(kind)} | {_cell(default_text(field))} |{setting} "
                     f"{_cell(field.description or '')} |")
    return [*lines, ""]


def render() -> str:
    """The whole page, as `python -m scripts.config_reference` writes it."""
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the configuration models by `{COMMAND}`; do not edit by hand (a test fails when",
        "this page is stale). How a configuration is written, extended and overridden:",
        "[configuration.md](configuration.md).",
        "",
    ]
    for prefix, root, intro in roots():
        for section in walk(prefix, root):
            lines += _section_lines(prefix, intro, section)
    return "\n".join(lines)


def undescribed() -> list[str]:
    """Dotted keys of the fields that have no `description=` (the reference would show them blank)."""
    missing = []
    for prefix, root, _ in roots():
        for section in walk(prefix, root):
            for name, field in section.model.model_fields.items():
                if not field.description:
                    missing.append(f"{section.path}.{name}" if section.path else name)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed page differs")
    parser.add_argument("--out", type=Path, default=PAGE, help=f"where to write (default {PAGE.relative_to(PROJECT)})")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `{COMMAND}` and commit it", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
