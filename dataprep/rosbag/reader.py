"""One sequential, time-ordered pass over a ROS1 or ROS2 bag, deserialized with a mended typestore.

rosbags' per-format readers are used directly (instead of `AnyReader`) so the typestore can be built with the
fixes in `typestore.py`, and so every failure names the bag and the topic. ROS1 bags go through
`ros1_stream.StreamingRos1Reader`, rosbags' reader with an index that grows with chunks instead of messages
(rosbags' own holds ~176 bytes per message for the whole bag); rosbag2's readers hold little per message.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.rosbag2 import Reader as Ros2Reader
from rosbags.rosbag2 import ReaderError as Ros2ReaderError

from dataprep.rosbag.definitions import mend_undecodable
from dataprep.rosbag.discover import UNINDEXED_ROS1_SUFFIX, is_ros1
from dataprep.rosbag.errors import BagError
from dataprep.rosbag.ros1_stream import NotABagError
from dataprep.rosbag.ros1_stream import StreamingRos1Reader as Ros1Reader
from dataprep.rosbag.typestore import build_typestore

logger = logging.getLogger(__name__)

_READER_ERRORS = (Ros1ReaderError, Ros2ReaderError)


@dataclass(frozen=True)
class TopicInfo:
    """What the bag declares about one topic."""

    topic: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagMessage:
    """One deserialized message at its receive time (nanoseconds)."""

    topic: str
    time_ns: int
    msg: Any


def _storage_file(folder: Path) -> Path | None:
    files = [p for p in sorted(folder.iterdir()) if p.suffix in (".mcap", ".db3")]
    return files[0] if len(files) == 1 else None


class BagReader:
    """A context manager over one bag: its topics, its time span, and one pass over chosen topics."""

    def __init__(self, path: Path, user_types: Mapping[str, Any] | None = None) -> None:
        """`user_types`: definitions parsed from `types.msg_paths`, for types the bag does not define."""
        self.path = Path(path)
        self.is_ros2 = not is_ros1(self.path)
        self.user_types = dict(user_types or {})
        self._reader: Ros1Reader | Ros2Reader | None = None
        self.typestore: Any = None
        self.notes: tuple[str, ...] = ()  # definitions replaced because the stored ones do not decode

    def __enter__(self) -> BagReader:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        if not self.path.exists():
            raise BagError(f"bag {self.path} does not exist")
        if self.path.name.endswith(UNINDEXED_ROS1_SUFFIX):
            raise BagError(f"bag {self.path} is an unindexed ROS1 recording (cut off, or still being recorded); "
                           f"reindex it with ROS1's `rosbag reindex` and rename it to .bag (rosbags cannot reindex)")
        self._reader = self._open_reader(self.path)
        if self.is_ros2 and self.path.is_dir() and self._yields_nothing():
            # A rosbag2 folder whose metadata.yaml disagrees with its storage file can yield 0 messages
            # without an error; the storage file itself reads correctly.
            storage = _storage_file(self.path)
            if storage is not None:
                logger.warning("%s: metadata.yaml yields no messages; reading %s directly", self.path, storage.name)
                self._reader.close()
                self._reader = self._open_reader(storage)
        store, hash_notes = build_typestore(self._reader.connections, self.is_ros2, str(self.path), self.user_types)
        self.typestore, decode_notes = mend_undecodable(self._reader, store, self.is_ros2, self.user_types,
                                                        str(self.path))
        self.notes = hash_notes + decode_notes

    def _open_reader(self, path: Path) -> Ros1Reader | Ros2Reader:
        try:
            reader = Ros2Reader(path) if self.is_ros2 else Ros1Reader(path)
            reader.open()
        except NotABagError as err:
            raise BagError(f"bag {path}: {err}") from err
        except _READER_ERRORS as err:
            hint = " (a cut-off recording has a damaged or missing index: reindex it with ROS1's `rosbag reindex`)" \
                if "index" in str(err).lower() and not self.is_ros2 else ""
            raise BagError(f"cannot open bag {path}: {err}{hint}") from err
        return reader

    def _yields_nothing(self) -> bool:
        assert self._reader is not None
        if not any(c.msgcount for c in self._reader.connections):
            return False
        return next(iter(self._reader.messages()), None) is None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def _open_reader_or_fail(self) -> Ros1Reader | Ros2Reader:
        if self._reader is None:
            raise BagError(f"bag {self.path} is not open")
        return self._reader

    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Declared topics; a topic recorded under several connections is summed."""
        counts: Counter[str] = Counter()
        types: dict[str, str] = {}
        for connection in self._open_reader_or_fail.connections:
            counts[connection.topic] += connection.msgcount
            types.setdefault(connection.topic, connection.msgtype)
        return {topic: TopicInfo(topic, types[topic], counts[topic]) for topic in types}

    @property
    def start_ns(self) -> int:
        return int(self._open_reader_or_fail.start_time)

    @property
    def end_ns(self) -> int:
        return int(self._open_reader_or_fail.end_time)

    def require_topics(self, topics: Collection[str]) -> None:
        """Fail before anything is written when the configuration names topics the bag lacks."""
        available = self.topics
        missing = sorted(set(topics) - set(available))
        if missing:
            listing = ", ".join(sorted(available)) or "none"
            raise BagError(f"bag {self.path} has no topic {', '.join(missing)}; it has: {listing}")

    def times(self) -> Iterator[tuple[str, int]]:
        """(topic, receive time ns) of every message in time order, nothing deserialized: for inspection."""
        try:
            for connection, time_ns, _ in self._open_reader_or_fail.messages():
                yield connection.topic, time_ns
        except _READER_ERRORS as err:
            raise BagError(f"bag {self.path}: read failed: {err}") from err

    def first_message(self, topic: str) -> Any:
        """The topic's first message, deserialized, or None when it has none."""
        connections = [c for c in self._open_reader_or_fail.connections if c.topic == topic]
        for connection, _, raw in self._open_reader_or_fail.messages(connections=connections):
            deserialize = self.typestore.deserialize_cdr if self.is_ros2 else self.typestore.deserialize_ros1
            return deserialize(raw, connection.msgtype)
        return None

    def messages(self, topics: Collection[str]) -> Iterator[BagMessage]:
        """Deserialize the chosen topics' messages in time order, in one pass.

        After the pass the number read per topic is compared with what the bag declares, so a storage fault
        never silently shortens an episode.
        """
        reader = self._open_reader_or_fail
        connections = [c for c in reader.connections if c.topic in topics]
        deserialize = self.typestore.deserialize_cdr if self.is_ros2 else self.typestore.deserialize_ros1
        seen: Counter[str] = Counter()
        try:
            for connection, time_ns, raw in reader.messages(connections=connections):
                try:
                    msg = deserialize(raw, connection.msgtype)
                except Exception as err:  # rosbags raises several types for corrupt payloads
                    raise BagError(
                        f"bag {self.path}: topic {connection.topic} ({connection.msgtype}): cannot decode "
                        f"message {seen[connection.topic]} at t={time_ns} ns: {err}"
                    ) from err
                seen[connection.topic] += 1
                yield BagMessage(connection.topic, time_ns, msg)
        except _READER_ERRORS as err:
            raise BagError(f"bag {self.path}: read failed: {err}") from err
        declared = self.topics
        short = {t: (seen[t], declared[t].count) for t in topics if t in declared and seen[t] != declared[t].count}
        if short:
            detail = ", ".join(f"{t}: read {got} of {want}" for t, (got, want) in sorted(short.items()))
            raise BagError(f"bag {self.path}: message counts differ from what the bag declares ({detail})")
