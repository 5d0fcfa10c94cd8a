"""A service's moving parts in one process: database, Kafka consumer and producer, relay, timers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from faststream.kafka import KafkaBroker
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging import headers
from cityloop_shared.messaging.broker import build_broker
from cityloop_shared.messaging.topics import ensure_site_topics
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.store.clocks import Clocks
from cityloop_shared.store.database import service_engine
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.relay import OutboxRelay

log = get_logger("cityloop.runtime")

Timer = Callable[["ServiceRuntime"], Awaitable[object]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    body: bytes
    key: bytes | None
    source: str
    reason: str


class ServiceRuntime:
    """Owns the connections of one service process and the transactions its work runs in."""

    def __init__(self, stage: Stage, settings: ServiceSettings) -> None:
        self.stage = stage
        self.settings = settings
        self.site = settings.site
        self.namespace = settings.topic_namespace
        self.topic = event_topic(settings.site, stage, self.namespace)
        self.dead_letter_topic = dead_letter_topic(settings.site, stage, self.namespace)
        self.schema = settings.database.schema_name or stage.value
        self.engine: AsyncEngine = service_engine(settings.database, self.schema)
        self.broker: KafkaBroker = build_broker(settings.kafka)
        self.relay = OutboxRelay(self.engine)
        self.reference = (
            ReferenceData.load(settings.reference_dir)
            if settings.reference_dir
            else ReferenceData.demo()
        )
        self._timers: list[tuple[float, Timer]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def clocks(self, ledger: Ledger) -> Clocks:
        calendar = self.reference.calendar
        return Clocks(ledger, calendar.add_working_time, calendar.working_time_between)

    def every(self, seconds: float, timer: Timer) -> None:
        """Run ``timer`` periodically; it must be safe to repeat (timers are state in the DB)."""
        self._timers.append((seconds, timer))

    @contextlib.asynccontextmanager
    async def transaction(
        self, dead_letters: list[DeadLetter] | None = None
    ) -> AsyncIterator[Ledger]:
        """A ledger on one database transaction; journaled events are relayed after commit.

        Dead letters collected during the transaction are published before it commits, so
        a crash in between redelivers the record rather than losing its dead letter.
        """
        async with self.engine.begin() as conn:
            ledger = Ledger(conn, self.topic, self.site)
            yield ledger
            await ledger.settle()
            await ledger.flush()
            for letter in dead_letters or ():
                await self.send_dead_letter(letter)
        if ledger.emitted:
            self.relay.wake()

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        log.warning("dead_letter", source=letter.source, reason=letter.reason)
        await self.relay.producer.send_and_wait(
            self.dead_letter_topic,
            letter.body,
            key=letter.key,
            headers=[
                (headers.DEAD_LETTER_REASON, letter.reason[:4000].encode()),
                (headers.DEAD_LETTER_SOURCE, letter.source.encode()),
            ],
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start producer, relay, consumer and timers; stop them in reverse order."""
        await ensure_site_topics(self.settings.kafka, self.site, self.namespace)
        await self.relay.start(self.settings.kafka, f"{self.stage.value}-relay")
        try:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
            for seconds, timer in self._timers:
                self._tasks.append(asyncio.create_task(self._repeat(seconds, timer)))
            await self.broker.start()
            try:
                yield
            finally:
                await self.broker.stop()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            await self.relay.stop()
            await self.engine.dispose()

    async def _repeat(self, seconds: float, timer: Timer) -> None:
        while True:
            try:
                await timer(self)
            except Exception:
                log.exception("timer.failed", timer=getattr(timer, "__name__", repr(timer)))
            await asyncio.sleep(seconds)


async def retry_transient(work: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run ``work`` again when a concurrent writer took the same case sequence or inbox id,
    or when the database dropped the connection it ran on (its transaction rolled back)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as error:
            transient = isinstance(error, IntegrityError) or error.connection_invalidated
            if not transient or attempt == attempts:
                raise
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
