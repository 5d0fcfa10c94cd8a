"""The outbox relay: publishes journaled events to Kafka in journal order, then stamps them.

A crash between publishing and stamping publishes those events again on restart; readers
drop them by event id (their inbox). Nothing journaled is ever left unpublished.

A round whose sends fail (the broker is down) is waited out whole and then tried again on a
new producer: an idempotent producer's sequence numbers do not survive a batch that expired
unsent (the broker refuses every later batch as out of order, for good), and a round begun
while an earlier one's sends are still queued would publish them all a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging import headers
from cityloop_shared.messaging.clients import RecordWriter, record_writer
from cityloop_shared.messaging.security import client_security
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.settings import KafkaSettings

log = get_logger("cityloop.relay")

RETRY_SECONDS = 1.0
"""The pause after a failed round: commits would otherwise wake the relay into the outage."""
STOP_SECONDS = 10.0


class OutboxRelay:
    """Runs as one task per service process.

    One relay per service schema at a time keeps a case's events in order on its topic;
    deployments run one replica of the relay (the HTTP and consumer side may scale out).
    """

    def __init__(
        self, database: Database, *, batch_size: int = 500, idle_seconds: float = 0.5
    ) -> None:
        self._database = database
        self._producer: RecordWriter | None = None
        self._kafka: tuple[KafkaSettings, str] | None = None
        self._renewing = False
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    @property
    def producer(self) -> RecordWriter:
        """The idempotent, ``acks=all`` producer, once :meth:`start` ran."""
        if self._producer is None:
            raise RuntimeError("the relay has not been started")
        return self._producer

    async def start(self, settings: KafkaSettings, client_id: str) -> None:
        self._kafka = (settings, client_id)
        self._producer = self.new_producer()
        await self._producer.start()

    def new_producer(self) -> RecordWriter:
        if self._kafka is None:
            raise RuntimeError("the relay has not been started")
        settings, client_id = self._kafka
        return record_writer(
            settings.bootstrap_servers,
            client_security(settings),
            client_id=f"{settings.client_id}-{client_id}",
            linger_ms=5,
        )

    async def _renew(self) -> None:
        """A started producer in place of the one whose sends failed."""
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), STOP_SECONDS)
        self._producer = self.new_producer()
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
                if self._renewing:
                    await self._renew()
                    self._renewing = False
                published = await self.publish_pending()
            except Exception as error:
                log.exception("relay.publish_failed")
                self._renewing = self._renewing or isinstance(error, KafkaError)
                await asyncio.sleep(RETRY_SECONDS)
                continue
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
        deliveries: list[asyncio.Future[Any]] = []
        try:
            for entry in entries:
                sent = await self.producer.send(
                    entry.topic,
                    entry.body.encode(),
                    key=str(entry.case_id).encode(),
                    headers=[
                        (headers.EVENT_TYPE, entry.event_type.encode()),
                        (headers.EVENT_ID, str(entry.event_id).encode()),
                        (headers.CASE_ID, str(entry.case_id).encode()),
                    ],
                )
                deliveries.append(sent)
        finally:
            # Every send settles before the round ends: no copy of a failed round stays queued.
            settled = await asyncio.gather(*deliveries, return_exceptions=True)
        failed = [outcome for outcome in settled if isinstance(outcome, BaseException)]
        if failed:
            raise failed[0]
        async with self._database.begin() as uow:
            uow.recorder.mark_published([entry.position for entry in entries], datetime.now(UTC))
        log.debug("relay.published", count=len(entries))
        return len(entries)
