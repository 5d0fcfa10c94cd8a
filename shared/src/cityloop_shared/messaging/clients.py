"""The record writers and readers the services use, for a Kafka cluster or an embedded log.

The bootstrap setting chooses: ``host:port[,…]`` is a Kafka cluster (aiokafka clients, as
configured here), ``embedded:<file>`` the process's embedded log
(:mod:`cityloop_shared.messaging.embedded`). Callers use only what both kinds offer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.embedded import EmbeddedLog, Headers, is_embedded, partitions
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity

_log = get_logger("cityloop.embedded")


class EmbeddedWriter:
    """Writes records to the embedded log as an idempotent producer would: in the order
    sent; the sends queued before the writer next runs go in one transaction."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._log: EmbeddedLog | None = None
        self._pending: list[tuple[tuple[str, bytes | None, bytes, Headers], asyncio.Future[int]]]
        self._pending = []
        self._flushing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._log = EmbeddedLog.at(self._bootstrap)

    async def stop(self) -> None:
        if self._flushing is not None:
            await self._flushing

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[int]:
        """Queue the record; the future answers its offset once it is on disk."""
        written: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append(((topic, key, value, tuple(headers or ())), written))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return written

    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> int:
        return await (await self.send(topic, value, key=key, headers=headers))

    async def _flush(self) -> None:
        if self._log is None:
            raise RuntimeError("the writer has not been started")
        await asyncio.sleep(0)  # the sender queues the rest of its batch first
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                offsets = await self._log.append([record for record, _ in batch])
            except Exception as error:
                for _, written in batch:
                    written.set_exception(error)
            else:
                for (_, written), offset in zip(batch, offsets, strict=True):
                    written.set_result(offset)
        self._flushing = None


class EmbeddedReader:
    """Reads assigned topics of the embedded log from positions it is told (no group)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._log: EmbeddedLog | None = None
        self._positions: dict[TopicPartition, int] = {}

    @property
    def log(self) -> EmbeddedLog:
        if self._log is None:
            raise RuntimeError("the reader has not been started")
        return self._log

    async def start(self) -> None:
        self._log = EmbeddedLog.at(self._bootstrap)

    async def stop(self) -> None:
        self._log = None

    def assign(self, assigned: list[TopicPartition]) -> None:
        self._positions = {tp: 0 for tp in assigned}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = offset

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        records = await self.log.read(
            {tp.topic: offset for tp, offset in self._positions.items()},
            max_records or 1000,
            timeout_ms / 1000,
        )
        batch: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            batch.setdefault(tp, []).append(record)
            self._positions[tp] = record.offset + 1
        return batch

    def highwater(self, tp: TopicPartition) -> int:
        return self.log.end(tp.topic)

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.log.end(tp.topic) for tp in tps}


class RecordWriter(Protocol):
    """What the services ask of a producer: :class:`aiokafka.AIOKafkaProducer`'s calls."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...
    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Any: ...


class RecordReader(Protocol):
    """What the services ask of an assigned consumer: :class:`aiokafka.AIOKafkaConsumer`'s."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def assign(self, assigned: list[TopicPartition]) -> None: ...
    def seek(self, tp: TopicPartition, offset: int) -> None: ...
    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]: ...
    def highwater(self, tp: TopicPartition) -> int | None: ...
    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]: ...


def record_writer(
    bootstrap: str, security: ClientSecurity = PLAINTEXT, **options: Any
) -> RecordWriter:
    """An idempotent, ``acks=all`` producer, or the embedded log's writer."""
    if is_embedded(bootstrap):
        return EmbeddedWriter(bootstrap)
    producer: RecordWriter = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **security, **options
    )
    return producer


def record_reader(
    bootstrap: str, security: ClientSecurity = PLAINTEXT, **options: Any
) -> RecordReader:
    """A consumer that reads the partitions it is assigned, committing nothing itself."""
    if is_embedded(bootstrap):
        return EmbeddedReader(bootstrap)
    consumer: RecordReader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security, **options
    )
    return consumer


async def topic_partitions(
    bootstrap: str, topics: Sequence[str], security: ClientSecurity = PLAINTEXT
) -> list[TopicPartition]:
    """Every partition of those of ``topics`` that exist, as the broker describes them (a
    consumer's own metadata need not know a topic made a moment ago)."""
    if is_embedded(bootstrap):
        return partitions(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] == 0
        for partition in topic["partitions"]
    ]


RecordsHandler = Callable[[Sequence[ConsumerRecord[Any, Any]]], Awaitable[None]]
"""Applies a batch of records; raises to have the same records delivered again."""

GROUP_BATCH_RECORDS = 500
GROUP_WAIT_S = 0.5
GROUP_RETRY_S = 1.0


class EmbeddedGroupConsumer:
    """A consumer group on the embedded log: hands batches to ``handler`` and commits the
    group's positions after it returns, as a service's Kafka subscriber does."""

    def __init__(
        self, bootstrap: str, group: str, topics: Sequence[str], handler: RecordsHandler
    ) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._topics = tuple(topics)
        self._handler = handler
        self._log: EmbeddedLog | None = None
        self._positions: dict[str, int] = {}

    async def run(self) -> None:
        """Until cancelled; a failure starts the reading over from the committed positions."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("embedded.group_restarting", group=self._group)
                await asyncio.sleep(GROUP_RETRY_S)

    async def _consume(self) -> None:
        log = self._log = EmbeddedLog.at(self._bootstrap)
        self._positions = await log.committed(self._group, self._topics)
        while True:
            records = await log.read(self._positions, GROUP_BATCH_RECORDS, GROUP_WAIT_S)
            if not records:
                continue
            try:
                await self._handler(records)
            except Exception:
                _log.exception("embedded.batch_failed", group=self._group, records=len(records))
                await asyncio.sleep(GROUP_RETRY_S)
                continue
            for record in records:
                self._positions[record.topic] = record.offset + 1
            await log.commit(self._group, self._positions)

    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet applied, per topic the group follows."""
        if self._log is None:
            return {}
        return {
            tp: max(self._log.end(tp.topic) - self._positions.get(tp.topic, 0), 0)
            for tp in partitions(self._topics)
        }
