"""A service's moving parts in one process: database, Kafka consumer and producer, relay, timers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage

from cityloop_shared.adapters import open_database
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.sites import other_level
from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.messaging import headers
from cityloop_shared.messaging.broker import (
    batch_options,
    build_broker,
    subscriber_options,
)
from cityloop_shared.messaging.clients import EmbeddedGroupConsumer, RecordsHandler
from cityloop_shared.messaging.embedded import is_embedded
from cityloop_shared.messaging.pacing import pace_metadata_updates
from cityloop_shared.messaging.topics import ensure_site_topics
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.calendar import Coverage
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.metrics import consumer_lag
from cityloop_shared.runtime.relay import OutboxRelay
from cityloop_shared.runtime.transaction import StageTransaction, stage_transaction
from cityloop_shared.settings import ServiceSettings

log = get_logger("cityloop.runtime")

Timer = Callable[["ServiceRuntime"], Awaitable[object]]
T = TypeVar("T")


async def retrying(work: Callable[[], Awaitable[T]], database: Database, attempts: int = 5) -> T:
    """Run ``work`` again when its transaction was lost to a passing cause: a concurrent
    writer took the same case sequence or tracking id, the connection broke, or the database
    rolled it back to settle a deadlock (``Database.is_transient``)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as error:
            if attempt == attempts or not database.is_transient(error):
                raise
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


class ServiceRuntime:
    """Owns the connections of one service process and the transactions its work runs in."""

    def __init__(self, service: StageService[Any], settings: ServiceSettings) -> None:
        self.service = service
        self.stage: Stage = service.rules.topology.stage
        self.settings = settings
        self.site = settings.site
        self.namespace = settings.topic_namespace
        self.topic = event_topic(settings.site, self.stage, self.namespace)
        self.dead_letter_topic = dead_letter_topic(settings.site, self.stage, self.namespace)
        self.schema = settings.database.schema_of(self.stage)
        self.database = open_database(settings.database, self.schema)
        # The consumer, the relay and FastStream's producer wait out a broker that is down.
        pace_metadata_updates()
        self.broker: KafkaBroker | None = (
            None if is_embedded(settings.kafka.bootstrap_servers) else build_broker(settings.kafka)
        )
        self._group: EmbeddedGroupConsumer | None = None
        self.relay = OutboxRelay(self.database)
        self.reference = (
            ReferenceData.load(settings.reference_dir)
            if settings.reference_dir
            else ReferenceData.demo()
        )
        self._timers: list[tuple[float, Timer]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.consuming = False
        """Whether the consumer has started (readiness): from the broker's start to its stop."""

    @property
    def other_level(self) -> tuple[str, ...]:
        """The sites of the other level whose topics sync mirrors to this site's cluster."""
        return other_level(self.site, self.settings.district_sites)

    def follow(self, topics: list[str], group: str, handler: RecordsHandler) -> None:
        """Hand ``handler`` the records of ``topics`` in batches, as consumer group ``group``;
        a batch's positions are committed after it returns."""
        if self.broker is None:
            bootstrap = self.settings.kafka.bootstrap_servers
            self._group = EmbeddedGroupConsumer(bootstrap, group, topics, handler)
            return

        @self.broker.subscriber(  # type: ignore[untyped-decorator]
            *topics, **batch_options(self.settings.kafka), **subscriber_options(group)
        )
        async def on_case_events(message: KafkaMessage) -> None:
            await handler(message.raw_message)

    def every(self, seconds: float, timer: Timer) -> None:
        """Run ``timer`` periodically; it must be safe to repeat (timers are state in the DB)."""
        self._timers.append((seconds, timer))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[StageTransaction[Any]]:
        """A stage transaction; what it journals is relayed after it commits.

        Events it found dead are published to the dead-letter topic before it commits (each
        acknowledged by the broker), so a crash in between reads the records again rather
        than losing their dead letters; at worst a dead letter is published twice.
        """
        async with stage_transaction(
            self.database,
            self.service,
            site=self.site,
            topic=self.topic,
            reference=self.reference,
            before_commit=self._send_dead_letters,
        ) as transaction:
            yield transaction
        if transaction.emitted:
            self.relay.wake()

    async def _send_dead_letters(self, transaction: StageTransaction[Any]) -> None:
        for dead in transaction.dead:
            log.warning("case_event.dead", **event_log_context(dead.event))
            await self.send_dead_letter(
                encode(dead.event), str(dead.event.case_id).encode(), dead.source, dead.reason
            )

    async def retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        return await retrying(work, self.database)

    async def send_dead_letter(
        self, body: bytes, key: bytes | None, source: str, reason: str
    ) -> None:
        log.warning("dead_letter", source=source, reason=reason)
        await self.relay.producer.send_and_wait(
            self.dead_letter_topic,
            body,
            key=key,
            headers=[
                (headers.DEAD_LETTER_REASON, reason[:4000].encode()),
                (headers.DEAD_LETTER_SOURCE, source.encode()),
            ],
        )

    def calendar_coverage(self) -> Coverage:
        """Whether the working calendar knows this year's and next year's official days."""
        calendar = self.reference.calendar
        return calendar.coverage(datetime.now(calendar.zone).date())

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start producer, relay, consumer and timers; stop them in reverse order."""
        coverage = self.calendar_coverage()
        if not coverage.complete:
            # Deadlines in a year not covered take Monday to Friday as working days.
            log.warning(
                "calendar.not_covered",
                current_year=coverage.current_year,
                current_covered=coverage.current_covered,
                next_covered=coverage.next_covered,
                hint="list the year's official holidays and working days under official_years "
                "in calendar.yaml",
            )
        for site in (self.site, *self.other_level):
            # The other level's topics on this cluster are the mirrors sync writes.
            await ensure_site_topics(self.settings.kafka, site, self.namespace)
        await self.relay.start(self.settings.kafka, f"{self.stage.value}-relay")
        try:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
            for seconds, timer in self._timers:
                self._tasks.append(asyncio.create_task(self._repeat(seconds, timer)))
            if self._group is not None:
                self._tasks.append(asyncio.create_task(self._group.run(), name="consumer"))
            if self.broker is not None:
                await self.broker.start()
            self.consuming = True
            try:
                yield
            finally:
                self.consuming = False
                if self.broker is not None:
                    await self.broker.stop()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            await self.relay.stop()
            await self.database.dispose()

    async def consumer_lag(self) -> dict[TopicPartition, int]:
        """Records not yet read, per partition the service's consumer is assigned."""
        if self._group is not None:
            return self._group.lag()
        lag: dict[TopicPartition, int] = {}
        for subscriber in self.broker.subscribers if self.broker is not None else ():
            consumer = getattr(subscriber, "consumer", None)
            if isinstance(consumer, AIOKafkaConsumer):
                lag |= await consumer_lag(consumer)
        return lag

    async def _repeat(self, seconds: float, timer: Timer) -> None:
        while True:
            try:
                await timer(self)
            except Exception:
                log.exception("timer.failed", timer=getattr(timer, "__name__", repr(timer)))
            await asyncio.sleep(seconds)
