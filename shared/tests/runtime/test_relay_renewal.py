"""A round of the relay whose sends fail (the broker went away) is waited out whole, and the
next round goes out on a new producer: the journal's events are published once each, in
order, and stamped only then."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber

from cityloop_shared.ports.recorder import JournalEntry
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.runtime.relay import OutboxRelay


def entry(position: int) -> JournalEntry:
    return JournalEntry(
        position=position,
        event_id=uuid4(),
        case_id=uuid4(),
        sequence=1,
        event_type="case.reported",
        event_hash="0" * 64,
        topic="cityloop.370212.intake.v1",
        body=f'{{"position": {position}}}',
        occurred_at=datetime.now(UTC),
        published_at=None,
    )


@dataclass
class Journal:
    """The recorder of a stage's database, as the relay uses it."""

    entries: list[JournalEntry]
    stamped: list[int] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def unpublished(self, limit: int) -> list[JournalEntry]:
        return [e for e in self.entries if e.position not in self.stamped][:limit]

    def mark_published(self, positions: list[int], at: datetime) -> None:
        self.stamped += positions
        if len(self.stamped) == len(self.entries):
            self.done.set()


@dataclass
class Books:
    recorder: Journal

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Books]:
        yield self


class Producer:
    """Sends that fail as an idempotent producer's do after a batch expired unsent, or that
    the broker acknowledges; what it delivered, and whether it was stopped."""

    def __init__(self, failing: bool) -> None:
        self.failing = failing
        self.delivered: list[bytes] = []
        self.unsettled: list[asyncio.Future[None]] = []
        self.stopped = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.failing:
            self.delivered.append(value)
            sent.set_result(None)
            return sent
        # The first send fails at once, the others only later: the round must wait for them.
        if self.unsettled:
            self.unsettled.append(sent)
            asyncio.get_running_loop().call_later(0.3, sent.set_exception, TimeoutError())
        else:
            self.unsettled.append(sent)
            sent.set_exception(OutOfOrderSequenceNumber())
        return sent


class RenewingRelay(OutboxRelay):
    def __init__(self, journal: Journal) -> None:
        super().__init__(cast(Database, Books(journal)))
        self.producers = [Producer(failing=True), Producer(failing=False)]
        self.made: list[Producer] = []
        self.settled_before_renewal = False

    def new_producer(self) -> AIOKafkaProducer:
        if self.made:
            self.settled_before_renewal = all(f.done() for f in self.made[-1].unsettled)
        self.made.append(self.producers[len(self.made)])
        return cast(AIOKafkaProducer, self.made[-1])


async def test_a_failed_round_is_sent_again_once_on_a_new_producer() -> None:
    journal = Journal([entry(position) for position in range(1, 4)])
    relay = RenewingRelay(journal)
    relay._producer = relay.new_producer()
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(journal.done.wait(), timeout=10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    failed, renewed = relay.made
    assert failed.stopped
    assert relay.settled_before_renewal
    assert failed.delivered == []
    assert renewed.delivered == [e.body.encode() for e in journal.entries]
    assert journal.stamped == [1, 2, 3]
