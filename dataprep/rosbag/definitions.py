"""Message definitions from outside the bag: the user's `.msg` folders, and standard definitions as a fallback
for stored ones that do not decode.

Real bags can store a stub for a standard type (a rosbag2 sqlite3 bag with `rcl_interfaces/msg/Log` stored as
`uint8 level`): every message then fails with "CDR message size mismatch" although ROS 2's own definition
reads them. Where a stored definition differs from a known one (the user's, else the distribution's), the
first message of that topic is decoded with the stored definition; only when that fails and the known one
succeeds is the known one used, and a note says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import TypesysError
from rosbags.typesys.store import Typestore

from dataprep.rosbag.errors import BagError
from dataprep.rosbag.typestore import with_dependencies

logger = logging.getLogger(__name__)

STANDARD_STORES = {True: (Stores.ROS2_HUMBLE, "ROS 2 Humble"), False: (Stores.ROS1_NOETIC, "ROS 1 Noetic")}


def standard_types(is_ros2: bool) -> dict[str, Any]:
    """The distribution's standard definitions (Humble for ROS 2, Noetic for ROS 1)."""
    return dict(get_typestore(STANDARD_STORES[is_ros2][0]).fielddefs)


def _type_name(msg_file: Path) -> str:
    """`<pkg>/msg/Name.msg` (or `<pkg>/Name.msg`) -> `pkg/msg/Name`."""
    package = msg_file.parent.parent if msg_file.parent.name == "msg" else msg_file.parent
    return f"{package.name}/msg/{msg_file.stem}"


def load_msg_folders(folders: Iterable[Path]) -> dict[str, Any]:
    """Every `.msg` file below the folders, parsed; the type's package is the folder above `msg/`."""
    types: dict[str, Any] = {}
    for name in folders:
        folder = Path(name)
        if not folder.is_dir():
            raise BagError(f"types.msg_paths: {folder} is not a folder")
        files = sorted(folder.rglob("*.msg"))
        if not files:
            raise BagError(f"types.msg_paths: {folder} holds no .msg file (expected <package>/msg/<Name>.msg)")
        for msg_file in files:
            try:
                types.update(get_types_from_msg(msg_file.read_text(), _type_name(msg_file)))
            except (TypesysError, ValueError, OSError) as err:
                raise BagError(f"types.msg_paths: cannot parse {msg_file}: {err}") from err
    return types


def _first_raw(reader: Any, connection: Connection) -> bytes | None:
    for _, _, raw in reader.messages(connections=[connection]):
        return bytes(raw)
    return None


def _decodes(typestore: Typestore, raw: bytes, msgtype: str, is_ros2: bool) -> bool:
    try:
        (typestore.deserialize_cdr if is_ros2 else typestore.deserialize_ros1)(raw, msgtype)
    except Exception:  # noqa: BLE001 - rosbags raises several types for a payload its definition does not fit
        return False
    return True


def _replaced(typestore: Typestore, msgtype: str, known: Mapping[str, Any]) -> Typestore | None:
    """A new typestore with `msgtype` and the types it uses taken from `known`, or None if that cannot register."""
    types = {**typestore.fielddefs, **with_dependencies({msgtype}, dict(known))}
    store = get_typestore(Stores.EMPTY)
    try:
        store.register(types)
    except TypesysError:
        return None
    return store


def mend_undecodable(reader: Any, typestore: Typestore, is_ros2: bool, user_types: Mapping[str, Any],
                     bag: str) -> tuple[Typestore, tuple[str, ...]]:
    """Swap in the known definition of each stored type that cannot decode its own first message."""
    notes: list[str] = []
    known = {**standard_types(is_ros2), **user_types}
    for connection in reader.connections:
        msgtype = connection.msgtype
        if msgtype not in known or typestore.fielddefs.get(msgtype) == known[msgtype] or not connection.msgcount:
            continue
        raw = _first_raw(reader, connection)
        if raw is None or _decodes(typestore, raw, msgtype, is_ros2):
            continue
        mended = _replaced(typestore, msgtype, known)
        if mended is None or not _decodes(mended, raw, msgtype, is_ros2):
            continue  # neither reads it: the decode error later names the topic
        typestore = mended
        source = ("the one in types.msg_paths" if msgtype in user_types
                  else f"the standard {STANDARD_STORES[is_ros2][1]} one")
        notes.append(f"topic {connection.topic}: the bag's stored definition of {msgtype} does not decode its "
                     f"messages; used {source} instead")
        logger.warning("%s: %s", bag, notes[-1])
    return typestore, tuple(notes)
