"""Building a typestore from the definitions a bag carries, mending two faults seen in real recordings.

1. Lowercase constants (`int8 kError = -1` in Leju Kuavo's `kuavo_msgs/lejuClawState`) are parsed by rosbags
   as fields, so the computed md5 differs from the recorded one. Such lines are taken out of the text and
   registered as constants; the wire format is unchanged and the md5 then matches.
2. Old ROS1 definitions can lack dependent types; types the bag does not define come from the distribution's
   standard typestore (Noetic for ROS1, Humble for ROS2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.base import TypesysError
from rosbags.typesys.store import Typestore

from dataprep.rosbag.errors import BagError

_SECTION = re.compile(r"^={80}\nMSG: (\S+)\n", re.MULTILINE)
_LOWER_CONSTANT = re.compile(r"^[ \t]*([A-Za-z_][\w/]*)[ \t]+([a-z]\w*)[ \t]*=[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_NAME, _ARRAY, _SEQUENCE = 2, 3, 4  # rosbags' Nodetype values
_INTEGER_TYPES = {"bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


def _constant_value(typ: str, raw: str) -> object:
    if typ == "string":
        return raw
    value = raw.split("#", 1)[0].strip()
    return int(value, 0) if typ in _INTEGER_TYPES else float(value)


def _split_sections(text: str, msgtype: str) -> list[tuple[str, str]]:
    """(type name, definition) for the main type and every embedded `MSG:` section."""
    parts = _SECTION.split(text)
    sections = [(msgtype, parts[0])]
    sections += [(name, body) for name, body in zip(parts[1::2], parts[2::2])]
    return sections


def _normalize(name: str) -> str:
    return name if "/msg/" in name else name.replace("/", "/msg/")


def _position(constant: str, body: str) -> int:
    """Where `constant = ...` is written in a definition, so constants keep their written order."""
    match = re.search(rf"\b{re.escape(constant)}\s*=", body)
    return match.start() if match else len(body)


def types_from_msg_keeping_lowercase_constants(text: str, msgtype: str) -> dict[str, Any]:
    """Parse a ROS1 definition, registering `type lowerName = value` lines as constants, not fields."""
    constants: dict[str, tuple[str, list[tuple[str, str, object]]]] = {}
    for name, body in _split_sections(text, msgtype):
        found = [
            (const, typ, _constant_value(typ, raw)) for typ, const, raw in _LOWER_CONSTANT.findall(body)
        ]
        if found:
            constants[_normalize(name)] = (body, found)
    types = get_types_from_msg(_LOWER_CONSTANT.sub("", text), msgtype)
    for name, (body, extra) in constants.items():
        if name in types:
            consts, fields = types[name]
            # the md5 lists constants in the order they were written
            ordered = sorted([*consts, *extra], key=lambda const: _position(const[0], body))
            types[name] = (ordered, fields)  # type: ignore[assignment]
    return types


def _parse(connection: Connection) -> dict[str, Any]:
    data = connection.msgdef.data
    if connection.msgdef.format == MessageDefinitionFormat.MSG:
        return types_from_msg_keeping_lowercase_constants(data, connection.msgtype)
    separator = "=" * 80 + "\n"
    if data.startswith(f"{separator}IDL: "):
        types: dict[str, Any] = {}
        for chunk in data.split(separator)[1:]:
            types.update(get_types_from_idl(chunk.split("\n", 1)[1]))
        return types
    return get_types_from_idl(data)


def _named_types(node: tuple[Any, Any]) -> list[str]:
    """Message type names a field definition refers to (through arrays and sequences)."""
    kind, detail = node
    if kind == _NAME:
        return [detail]
    return _named_types(detail[0]) if kind in (_ARRAY, _SEQUENCE) else []


def _references(types: dict[str, Any]) -> set[str]:
    return {name for _, fields in types.values() for _, node in fields for name in _named_types(node)}


def with_dependencies(names: set[str], available: dict[str, Any]) -> dict[str, Any]:
    """`names` and every type they use, taken from `available` (unknown names are left for register to report)."""
    found: dict[str, Any] = {}
    pending = [name for name in names if name in available]
    while pending:
        name = pending.pop()
        if name not in found:
            found[name] = available[name]
            pending += [dep for dep in _references({name: available[name]}) if dep in available]
    return found


def _digest(typestore: Typestore, msgtype: str, is_ros2: bool) -> str:
    return typestore.hash_rihs01(msgtype) if is_ros2 else typestore.generate_msgdef(msgtype)[1]


def _registered(types: Mapping[str, Any], bag: str) -> Typestore:
    typestore = get_typestore(Stores.EMPTY)
    try:
        typestore.register(dict(types))
    except TypesysError as err:
        raise BagError(f"{bag}: cannot register the bag's message types: {err}") from err
    return typestore


def build_typestore(connections: Sequence[Connection], is_ros2: bool, bag: str,
                    user_types: Mapping[str, Any] | None = None) -> tuple[Typestore, tuple[str, ...]]:
    """A typestore for `connections`, checked against the digests the bag recorded, and notes on what was mended.

    Types the bag does not define come from `user_types` (parsed `types.msg_paths`), else the distribution.
    A stored definition whose hash differs from the recorded one is replaced by a known definition (the same
    sources) whose hash is the recorded one: the bag stored a stub, but the publisher used that type.
    """
    fallback = get_typestore(Stores.ROS2_HUMBLE if is_ros2 else Stores.ROS1_NOETIC)
    available = {**fallback.fielddefs, **(user_types or {})}
    defined: dict[str, Any] = {}
    digests: dict[str, tuple[str, str]] = {}
    for connection in connections:
        if connection.msgdef.format == MessageDefinitionFormat.NONE or not connection.msgdef.data.strip():
            continue  # no definition stored (older rosbag2 bags): taken from `available`
        try:
            defined.update(_parse(connection))
        except (TypesysError, ValueError) as err:
            raise BagError(f"{bag}: cannot parse the definition of {connection.msgtype} "
                           f"(topic {connection.topic}): {err}") from err
        if connection.digest:
            digests[connection.msgtype] = (connection.digest, connection.topic)
    undefined = {c.msgtype for c in connections if c.msgtype not in defined} | _references(defined)
    types = {**with_dependencies(undefined - defined.keys(), available), **defined}
    unknown = sorted({c.msgtype for c in connections} - types.keys())
    if unknown:
        raise BagError(f"{bag}: the bag carries no definition of {', '.join(unknown)}, and it is not a standard "
                       f"type; give the package's .msg files with `types: {{msg_paths: [folder, ...]}}`")
    typestore = _registered(types, bag)
    notes: list[str] = []
    for msgtype, (digest, topic) in digests.items():
        have = _digest(typestore, msgtype, is_ros2)
        if have == digest:
            continue
        if msgtype in available:
            known = _registered({**types, **with_dependencies({msgtype}, available)}, bag)
            if _digest(known, msgtype, is_ros2) == digest:
                typestore, types = known, dict(known.fielddefs)
                source = "the one in types.msg_paths" if msgtype in (user_types or {}) else "the standard one"
                notes.append(f"topic {topic}: the bag's stored definition of {msgtype} does not match its "
                             f"recorded hash; used {source}, whose hash it is")
                continue
        raise BagError(
            f"{bag}: topic {topic}: the definition of {msgtype} does not match its recorded hash "
            f"({have} != {digest}); the bag's message definitions are inconsistent; if it is a custom type, "
            f"give its .msg files with `types: {{msg_paths: [...]}}`"
        )
    return typestore, tuple(notes)
