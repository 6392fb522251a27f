"""Field paths into deserialized messages: `joint_data.joint_q`, `data.position`, `poses[0].position.x`.

Paths are checked against the message definitions before the pass, so a typo fails at once with the list of
fields that do exist, instead of after an hour of reading.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from dataprep.rosbag.errors import BagError

_SEGMENT = re.compile(r"([A-Za-z_]\w*)((?:\[\d+\])*)")
_NUMERIC = {"bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
            "float32", "float64"}
# rosbags' Nodetype values
_BASE, _NAME, _ARRAY, _SEQUENCE = 1, 2, 3, 4

PathStep = str | int


def parse_field_path(path: str) -> tuple[PathStep, ...]:
    """Split `a.b[2].c` into ('a', 'b', 2, 'c')."""
    steps: list[PathStep] = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if not match:
            raise BagError(f"field path {path!r}: {segment!r} is not a field name")
        steps.append(match.group(1))
        steps.extend(int(i) for i in re.findall(r"\d+", match.group(2)))
    return tuple(steps)


def check_field_path(typestore: Typestore, msgtype: str, path: str, topic: str, bag: str) -> None:
    """Raise BagError naming the bag, topic and field when `path` does not lead to numbers in `msgtype`."""
    node: tuple[int, Any] = (_NAME, msgtype)
    where = msgtype
    for step in parse_field_path(path):
        kind, detail = node
        if isinstance(step, int):
            if kind not in (_ARRAY, _SEQUENCE):
                raise BagError(f"bag {bag}: topic {topic}: field {path!r}: {where} is not an array")
            node = detail[0]
            continue
        if kind != _NAME:
            raise BagError(f"bag {bag}: topic {topic}: field {path!r}: {where} has no fields")
        fields = dict(typestore.fielddefs[detail][1])
        if step not in fields:
            raise BagError(f"bag {bag}: topic {topic}: {detail} has no field {step!r} (field path {path!r}); "
                           f"its fields are: {', '.join(fields)}")
        node, where = fields[step], f"{detail}.{step}"
    kind, detail = node
    element = detail[0] if kind in (_ARRAY, _SEQUENCE) else node
    if element[0] != _BASE or element[1][0] not in _NUMERIC:
        raise BagError(f"bag {bag}: topic {topic}: field {path!r} is not numeric (it is {where}); "
                       "name a number or an array of numbers")


def extract_values(msg: Any, steps: tuple[PathStep, ...]) -> np.ndarray:
    """The numbers at `steps` in `msg` as a 1-D float64 array (a copy: messages are views on raw buffers)."""
    value = msg
    for step in steps:
        value = value[step] if isinstance(step, int) else getattr(value, step)
    return np.array(value, dtype=np.float64).reshape(-1)
