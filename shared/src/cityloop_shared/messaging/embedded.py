"""In-process delivery for the embedded mode: a durable log of records in one SQLite file.

It keeps Kafka's semantics where the services rely on them, so their code does not change:
each topic is an ordered log that is never rewritten (one partition: a site in one process
has no need to spread a topic), a record is on disk once its write is acknowledged, and a
consumer group's position moves only when the group commits it after its transaction. A
crash between a service's commit and the group's re-reads those records; the inbox drops
them, as it does Kafka's redeliveries.

``CITYLOOP_KAFKA_BOOTSTRAP_SERVERS=embedded:<file>`` names the log instead of a cluster.
Every service of the process shares one :class:`EmbeddedLog` per file; a write wakes its
readers at once, so a case moves through the stages without polling delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from aiokafka import ConsumerRecord, TopicPartition

EMBEDDED_SCHEME = "embedded:"
PARTITION = 0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic)
) WITHOUT ROWID;
"""

_COMMIT_OFFSET = (
    "INSERT INTO group_offsets (group_id, topic, next_offset) VALUES (?, ?, ?) "
    "ON CONFLICT (group_id, topic) DO UPDATE SET next_offset = excluded.next_offset"
)

Headers = Sequence[tuple[str, bytes]]
T = TypeVar("T")


def is_embedded(bootstrap: str) -> bool:
    """Whether ``bootstrap`` names an embedded log rather than a Kafka cluster."""
    return bootstrap.startswith(EMBEDDED_SCHEME)


def embedded_bootstrap(path: Path) -> str:
    return f"{EMBEDDED_SCHEME}{path}"


class EmbeddedLog:
    """The records of every topic, in one SQLite file; one writer at a time."""

    _open: ClassVar[dict[tuple[str, int], EmbeddedLog]] = {}

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._ends: dict[str, int] = dict(
            self._db.execute('SELECT topic, MAX("offset") + 1 FROM records GROUP BY topic')
        )
        # Every use of the connection runs on this one thread, one after another: a caller
        # cancelled while its statement runs cannot let the next one in beside it.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityloop-log")
        self._appended = asyncio.Event()
        """Set by the next write, then replaced: what a reader waits on."""

    @classmethod
    def at(cls, bootstrap: str) -> EmbeddedLog:
        """The process's log for ``embedded:<file>`` (one per file and event loop)."""
        path = Path(bootstrap.removeprefix(EMBEDDED_SCHEME)).resolve()
        key = (str(path), id(asyncio.get_running_loop()))
        log = cls._open.get(key)
        if log is None:
            log = cls._open[key] = cls(path)
        return log

    def end(self, topic: str) -> int:
        """The offset the next record of ``topic`` gets (Kafka's high watermark)."""
        return self._ends.get(topic, 0)

    async def append(
        self, records: Sequence[tuple[str, bytes | None, bytes, Headers]]
    ) -> list[int]:
        """Write ``(topic, key, value, headers)`` records in one transaction; their offsets."""
        offsets = await self._on_thread(self._write, records)
        written, self._appended = self._appended, asyncio.Event()
        written.set()
        return offsets

    def _write(self, records: Sequence[tuple[str, bytes | None, bytes, Headers]]) -> list[int]:
        now = int(time.time() * 1000)
        ends = dict(self._ends)
        rows, offsets = [], []
        for topic, key, value, headers in records:
            offset = ends.get(topic, 0)
            ends[topic] = offset + 1
            offsets.append(offset)
            encoded = json.dumps([[name, data.hex()] for name, data in headers])
            rows.append((topic, offset, key, value, encoded, now))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                'INSERT INTO records (topic, "offset", key, value, headers, timestamp_ms) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._ends = ends
        return offsets

    async def read(
        self, positions: Mapping[str, int], max_records: int, timeout_s: float
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of the topics from their positions, in each topic's order; waits up to
        ``timeout_s`` for one when there is none yet."""
        # Taken before looking: a write after the look sets it.
        appended = self._appended
        if not any(self.end(topic) > offset for topic, offset in positions.items()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(appended.wait(), timeout_s)
        # Up to the ends acknowledged so far: a write under way is not read half done.
        wanted = {t: (o, self.end(t)) for t, o in positions.items() if self.end(t) > o}
        if not wanted:
            return []
        return await self._on_thread(self._read, wanted, max_records)

    def _read(
        self, ranges: Mapping[str, tuple[int, int]], max_records: int
    ) -> list[ConsumerRecord[Any, Any]]:
        found: list[ConsumerRecord[Any, Any]] = []
        for topic, (start, end) in ranges.items():
            rows = self._db.execute(
                'SELECT "offset", key, value, headers, timestamp_ms FROM records '
                'WHERE topic = ? AND "offset" >= ? AND "offset" < ? ORDER BY "offset" LIMIT ?',
                (topic, start, end, max_records - len(found)),
            ).fetchall()
            found.extend(_record(topic, *row) for row in rows)
            if len(found) >= max_records:
                break
        return found

    async def committed(self, group: str, topics: Iterable[str]) -> dict[str, int]:
        """The group's next offset per topic (0 where it never committed: from the start)."""
        rows = dict(
            await self._on_thread(
                lambda: self._db.execute(
                    "SELECT topic, next_offset FROM group_offsets WHERE group_id = ?", (group,)
                ).fetchall()
            )
        )
        return {topic: rows.get(topic, 0) for topic in topics}

    async def commit(self, group: str, positions: Mapping[str, int]) -> None:
        await self._on_thread(self._commit, [(group, t, o) for t, o in positions.items()])

    def _commit(self, rows: list[tuple[str, str, int]]) -> None:
        # A statement a row inside a transaction: executemany of this upsert outside one was
        # refused now and then by SQLite as API misuse under load.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                self._db.execute(_COMMIT_OFFSET, row)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def _on_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, functools.partial(work, *args)
        )


def _record(
    topic: str, offset: int, key: bytes | None, value: bytes, headers: str, timestamp_ms: int
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=topic,
        partition=PARTITION,
        offset=offset,
        timestamp=timestamp_ms,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key) if key is not None else -1,
        serialized_value_size=len(value),
        headers=tuple((name, bytes.fromhex(data)) for name, data in json.loads(headers)),
    )


def partitions(topics: Iterable[str]) -> list[TopicPartition]:
    return [TopicPartition(topic, PARTITION) for topic in topics]
