"""ROS1 bags read chunk by chunk, holding three numbers per chunk instead of a Python record per message.

Why not rosbags' `rosbag1.Reader` as it is: its `open()` reads every chunk's IDXDATA into one `IndexData`
NamedTuple per message (about 176 bytes each, measured) and keeps them until the bag is closed: 176 MB for a
1,250 s Kuavo recording, ~4 GB for an eight-hour one, before the first message is read. rosbags offers no
other way to read a ROS1 bag, so this subclass replaces only `open()` and `messages()`:

- `open()` reads the bag header, the connection records (rosbags' own `read_connection`) and the chunk-info
  records into three numpy arrays (position, start, end: 24 bytes per chunk of ~768 KB) and sums each
  connection's message count from them. No IDXDATA is read at all, so what a chunk holds never depends on its
  per-message index records being present or intact.
- `messages()` decompresses chunks in start-time order and reads each chunk's records with rosbags' `Header`.
  A message is released once no chunk still unread can hold an earlier one (every later chunk starts at or
  after it), so what is held is the messages of the chunks whose time ranges overlap: one chunk's worth for
  a bag written by `rosbag record`, whatever its length.

Decoding stays with rosbags (its typestore deserializes what this yields). Equal timestamps come out in the
order they were written; rosbags' reader orders them by connection instead.
"""

from __future__ import annotations

import heapq
import io
import os
import re
from collections import Counter
from collections.abc import Collection, Generator
from typing import Any

import numpy as np
from rosbags.interfaces import Connection, TopicInfo
from rosbags.rosbag1 import Reader, ReaderError
from rosbags.rosbag1.reader import Header, RecordType, read_bytes, read_uint32

REINDEX_HINT = ("if the recording was cut off or copied incompletely, reindex it with ROS1's `rosbag reindex`; "
                "otherwise the bag's data is damaged at that offset")

NOT_A_BAG = "the file is not a bag, or its header is damaged (its first bytes are not a bag's text header)"


class NotABagError(ReaderError):
    """The file does not start with a ROS1 bag's `#ROSBAG V2.0` line."""


class StreamingRos1Reader(Reader):
    """rosbags' ROS1 reader with an index that grows with chunks, not messages (see the module docstring)."""

    def __init__(self, path: Any) -> None:
        super().__init__(path)
        self.chunk_pos = np.zeros(0, np.int64)
        self.chunk_start = np.zeros(0, np.int64)
        self.chunk_end = np.zeros(0, np.int64)  # exclusive, as rosbags reports it

    @property
    def start_time(self) -> int:
        self._check_open()
        return int(self.chunk_start.min()) if len(self.chunk_start) else 2**63 - 1

    @property
    def end_time(self) -> int:
        self._check_open()
        return int(self.chunk_end.max()) if len(self.chunk_end) else 0

    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Topic information, counted from the connections (rosbags counts it from its chunk infos)."""
        self._check_open()
        topics: dict[str, TopicInfo] = {}
        for connection in self.connections:
            info = topics.get(connection.topic)
            if info is None:
                topics[connection.topic] = TopicInfo(connection.msgtype, connection.msgdef, connection.msgcount,
                                                     [connection])
            else:
                msgtype = info.msgtype if info.msgtype == connection.msgtype else None
                topics[connection.topic] = TopicInfo(msgtype, info.msgdef, info.msgcount + connection.msgcount,
                                                     [*info.connections, connection])
        return topics

    def open(self) -> None:
        """Read the header, the connections and the chunk infos; nothing per message."""
        if self.bio is not None:
            raise ReaderError("Reader is already open.")
        try:
            self.bio = self.path.open("rb")
        except PermissionError:
            raise
        except OSError as err:
            raise ReaderError(f"Could not open file {str(self.path)!r}: {err.strerror}.") from err
        try:
            self._read_index_section()
        except BaseException:
            self.close()
            raise

    def _read_index_section(self) -> None:
        assert self.bio is not None
        try:
            magic = self.bio.readline().decode()
        except UnicodeDecodeError as err:
            raise NotABagError(NOT_A_BAG) from err
        if not magic:
            raise ReaderError(f"File {str(self.path)!r} seems to be empty.")
        match = re.match(r"#ROSBAG V(\d+).(\d+)\n", magic)
        if not match:
            raise NotABagError(NOT_A_BAG)
        if (version := int(match[1]) * 100 + int(match[2])) != 200:
            raise ReaderError(f"Bag version {version!r} is not supported.")
        header = Header.read(self.bio, RecordType.BAGHEADER)
        index_pos = header.get_uint64("index_pos")
        conn_count, chunk_count = header.get_uint32("conn_count"), header.get_uint32("chunk_count")
        if header.get("encryptor"):
            raise ReaderError(f"Bag encryption {header.get_string('encryptor')!r} is not supported.")
        if index_pos == 0:
            raise ReaderError("Bag is not indexed, reindex before reading.")
        if chunk_count == 0:
            return
        self.bio.seek(index_pos)
        try:
            connections = [self.read_connection() for _ in range(conn_count)]
            counts = self._read_chunk_infos(chunk_count)
        except ReaderError as err:
            raise ReaderError(f"Bag index looks damaged: {err.args}") from None
        # rosbags fills msgcount from its per-message index; the chunk infos hold the same counts
        self.connections = [Connection(*c[0:5], counts[c.id], *c[6:]) for c in connections]

    def _read_chunk_infos(self, chunk_count: int) -> Counter[int]:
        assert self.bio is not None
        pos, start, end = (np.empty(chunk_count, np.int64) for _ in range(3))
        counts: Counter[int] = Counter()
        for i in range(chunk_count):
            header = Header.read(self.bio, RecordType.CHUNK_INFO)
            if (ver := header.get_uint32("ver")) != 1:
                raise ReaderError(f"CHUNK_INFO version {ver} is not supported.")
            count = header.get_uint32("count")
            pos[i] = header.get_uint64("chunk_pos")
            start[i] = header.get_time("start_time") if count else 2**63 - 1
            end[i] = header.get_time("end_time") + 1 if count else 0
            self.bio.seek(4, os.SEEK_CUR)
            pairs = np.frombuffer(read_bytes(self.bio, 8 * count), dtype="<u4").reshape(-1, 2)
            for conn, n in pairs.tolist():
                counts[conn] += n
        self.chunk_pos, self.chunk_start, self.chunk_end = pos, start, end
        return counts

    def messages(self, connections: Collection[Connection] = (), start: int | None = None,
                 stop: int | None = None) -> Generator[tuple[Connection, int, bytes], None, None]:
        """(connection, receive time ns, raw bytes) in time order, as rosbags' `messages` yields them."""
        self._check_open()
        connmap = {c.id: c for c in self.connections}
        wanted = {c.id for c in connections} if connections else set(connmap)
        pending: list[tuple[int, int, int, bytes]] = []  # (time, file order, connection id, data)
        order = 0
        for i in np.argsort(self.chunk_start, kind="stable").tolist():
            chunk_start = int(self.chunk_start[i])
            while pending and pending[0][0] < chunk_start:
                time, _, conn, data = heapq.heappop(pending)
                if stop is not None and time >= stop:
                    return
                if start is None or time >= start:
                    yield connmap[conn], time, data
            if stop is not None and chunk_start >= stop:
                break
            for time, conn, data in self._chunk_messages(int(self.chunk_pos[i]), wanted):
                heapq.heappush(pending, (time, order, conn, data))
                order += 1
        while pending:
            time, _, conn, data = heapq.heappop(pending)
            if stop is not None and time >= stop:
                return
            if start is None or time >= start:
                yield connmap[conn], time, data

    def _chunk_messages(self, pos: int, wanted: set[int]) -> list[tuple[int, int, bytes]]:
        """(time, connection id, data) of the wanted messages of the chunk record at byte `pos`, in file order."""
        assert self.bio is not None
        self.bio.seek(pos)
        where = "its header"
        try:
            chunk = self.read_chunk()
            self.bio.seek(chunk.datapos)
            where = "its compressed data"
            raw = chunk.decompressor(read_bytes(self.bio, chunk.datasize))
            return _records(raw, wanted)
        except _ChunkRecordError as err:
            raise ReaderError(f"damaged chunk at byte offset {pos} (record at byte {err.offset} of its data: "
                              f"{err.reason}); {REINDEX_HINT}") from err
        except Exception as err:  # a zeroed or cut region: rosbags' ReaderError, or lz4/bz2 errors
            raise ReaderError(f"damaged chunk at byte offset {pos} ({where}: {err}); {REINDEX_HINT}") from err


class _ChunkRecordError(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} at {offset}")
        self.offset, self.reason = offset, reason


def _records(raw: bytes, wanted: set[int]) -> list[tuple[int, int, bytes]]:
    """The MSGDATA records of decompressed chunk data; connection records in it are skipped."""
    out: list[tuple[int, int, bytes]] = []
    src = io.BytesIO(raw)
    size = len(raw)
    while (offset := src.tell()) < size:
        try:
            header = Header.read(src)
            op = header.get_uint8("op")
            length = read_uint32(src)
            if src.tell() + length > size:
                raise ReaderError(f"record of {length} bytes runs past the chunk's end")
            if op == RecordType.MSGDATA:
                conn = header.get_uint32("conn")
                if conn in wanted:
                    out.append((header.get_time("time"), conn, read_bytes(src, length)))
                    continue
            elif op != RecordType.CONNECTION:
                raise ReaderError(f"unexpected record op {op} in a chunk")
            src.seek(length, os.SEEK_CUR)
        except ReaderError as err:
            raise _ChunkRecordError(offset, str(err).rstrip(".")) from err
    return out
