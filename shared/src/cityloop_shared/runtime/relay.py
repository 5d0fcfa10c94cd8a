"""The outbox relay: publishes journaled events to Kafka in journal order, then stamps them.

A crash between publishing and stamping publishes those events again on restart; readers
drop them by event id (their inbox). Nothing journaled is ever left unpublished.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging import headers
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.settings import KafkaSettings

log = get_logger("cityloop.relay")


class OutboxRelay:
    """Runs as one task per service process.

    One relay per service schema at a time keeps a case's events in order on its topic;
    deployments run one replica of the relay (the HTTP and consumer side may scale out).
    """

    def __init__(
        self, database: Database, *, batch_size: int = 500, idle_seconds: float = 0.5
    ) -> None:
        self._database = database
        self._producer: AIOKafkaProducer | None = None
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The idempotent, ``acks=all`` producer, once :meth:`start` ran."""
        if self._producer is None:
            raise RuntimeError("the relay has not been started")
        return self._producer

    async def start(self, settings: KafkaSettings, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-{client_id}",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        await self._producer.start()

    async def stop(self) -> None:
        """Publish what is pending if the broker still answers, then close the producer."""
        with contextlib.suppress(Exception):
            await self.publish_pending()
        await self.producer.stop()

    def wake(self) -> None:
        """Called after a transaction that journaled events commits, to publish them now."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            # Cleared before the round, not after: a commit that wakes the relay while it
            # publishes is then answered by the next round at once, not after idle_seconds.
            self._wake.clear()
            try:
                published = await self.publish_pending()
            except Exception:
                log.exception("relay.publish_failed")
                published = 0
            if published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events; the number published."""
        async with self._database.begin() as uow:
            entries = await uow.recorder.unpublished(self._batch_size)
        if not entries:
            return 0
        # Sends are queued in journal order; the idempotent producer keeps that order per
        # partition and never duplicates a record it retries.
        deliveries = [
            await self.producer.send(
                entry.topic,
                entry.body.encode(),
                key=str(entry.case_id).encode(),
                headers=[
                    (headers.EVENT_TYPE, entry.event_type.encode()),
                    (headers.EVENT_ID, str(entry.event_id).encode()),
                    (headers.CASE_ID, str(entry.case_id).encode()),
                ],
            )
            for entry in entries
        ]
        await asyncio.gather(*deliveries)
        async with self._database.begin() as uow:
            uow.recorder.mark_published([entry.position for entry in entries], datetime.now(UTC))
        log.debug("relay.published", count=len(entries))
        return len(entries)
