"""Reading YAML configurations into validated models.

Two conveniences keep presets in one place: a mapping may say `extends: other.yaml` (path relative to the
file that says it) to start from that file's content, and `key.path=value` overrides from the command line
are merged last. Validation errors are re-raised as `ConfigError` naming the file and the dotted field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dataprep.errors import DataprepError

M = TypeVar("M", bound=BaseModel)

EXTENDS_KEY = "extends"


class ConfigError(DataprepError):
    """The configuration file cannot be read or does not validate."""


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, resolving `extends` references below it."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read configuration {path}: {err.strerror}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    return _resolve_extends(data, path, seen=(path.resolve(),))


def _resolve_extends(data: Any, path: Path, seen: tuple[Path, ...]) -> Any:
    if not isinstance(data, dict):
        return data
    data = {key: _resolve_extends(value, path, seen) for key, value in data.items()}
    if EXTENDS_KEY not in data:
        return data
    base_path = (path.parent / str(data.pop(EXTENDS_KEY))).resolve()
    if base_path in seen:
        raise ConfigError(f"{path}: 'extends' loops back to {base_path}")
    try:
        base = yaml.safe_load(base_path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot extend {base_path}: {err}") from err
    return deep_merge(_resolve_extends(base, base_path, (*seen, base_path)), data)


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in `override` replaces what `base` had."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return override


_KEY_SEGMENT = re.compile(r'"([^"]+)"|\'([^\']+)\'|([^.\'"]+)')


def split_key(key: str) -> list[str]:
    """`a."b.c".d` -> ['a', 'b.c', 'd']: a segment in double or single quotes may hold dots.

    That is how `--set` reaches feature keys such as `observation.state`:
    `--set 'rosbag_to_lerobot.features."observation.state".dtype=float64'` (the outer single quotes keep the
    shell from eating the double ones).
    """
    segments: list[str] = []
    position = 0
    while True:
        match = _KEY_SEGMENT.match(key, position)
        if match is None:
            raise ConfigError(f"override key {key!r}: expected a name or a quoted name at character {position + 1} "
                              f'(a key segment holding dots is written in quotes: a."b.c".d)')
        segments.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        if position == len(key):
            return segments
        if key[position] != ".":
            raise ConfigError(f"override key {key!r}: expected '.' after {segments[-1]!r}")
        position += 1


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn `a.b=value` strings (value parsed as YAML) into a nested mapping; see `split_key` for quoting."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from err
        node = result
        *parents, leaf = split_key(key.strip())
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[leaf] = value
    return result


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate `data`, turning pydantic's report into one message that names each bad field."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in err.errors()
        )
        raise ConfigError(f"{source}: invalid configuration: {problems}") from err


def load_config(model: type[M], path: Path, overrides: Iterable[str] = ()) -> M:
    """Read, extend, override and validate a configuration file."""
    data = read_yaml(path)
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(data).__name__}")
    merged = deep_merge(data or {}, parse_overrides(overrides))
    return validate(model, merged, str(path))
