"""Following a site's case topics into a store of whole case histories: the reading behind
the city's projection and behind evaluation.

No consumer group: where each topic was read to is the store's own, written in the
transaction that applies what was read, so the two never disagree and a crash at any moment
re-reads from the last position written. An event read again (a re-sent record, another
copy) is known by its id and changes nothing. Each batch hands the histories of the cases it
touched, whole, to the reader's ``project``: a fold of a case's whole history is the same
whichever order its events arrived in.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    select,
)

from cityloop_shared.adapters.sql.tables import Moment
from cityloop_shared.contract.codec import UndecodableEvent, decode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.clients import RecordReader, record_reader, topic_partitions
from cityloop_shared.messaging.pacing import pace_metadata_updates
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity
from cityloop_shared.ports.unit_of_work import Database, UnitOfWork
from cityloop_shared.runtime.service import retrying

log = get_logger("cityloop.timeline")

Project = Callable[[UnitOfWork, Mapping[UUID, Sequence[CaseEvent]]], Awaitable[None]]
"""What a reader makes of the whole histories of the cases a batch touched, in its
transaction."""
Pass = Callable[[Sequence[CaseEvent]], Awaitable[None]]
"""What a reader passes on of the events new to it, before its transaction commits: a batch
whose passing fails is read again, so what is passed on may come twice, never not at all."""


@dataclass(frozen=True, slots=True)
class TimelineTables:
    timeline: Table
    """Every event of every case read, with where it was read from."""
    positions: Table
    """The next offset of each partition read."""


def timeline_tables(metadata: MetaData, timeline: str = "timeline") -> TimelineTables:
    return TimelineTables(
        Table(
            timeline,
            metadata,
            Column("event_id", Uuid, primary_key=True),
            Column("case_id", Uuid, nullable=False, index=True),
            Column("event_type", String(64), nullable=False),
            Column("site", String(6), nullable=False),
            Column("occurred_at", Moment, nullable=False),
            Column("topic", String(249), nullable=False),
            Column("partition", Integer, nullable=False),
            Column("offset", BigInteger, nullable=False),
            Column("logged_at", Moment, nullable=False, doc="When the emitting site's log took it"),
            Column("applied_at", Moment, nullable=False, doc="When this store applied it"),
            Column("body", Text, nullable=False),
        ),
        Table(
            "positions",
            metadata,
            Column("topic", String(249), primary_key=True),
            Column("partition", Integer, primary_key=True),
            Column("next_offset", BigInteger, nullable=False),
        ),
    )


class TimelineFollower:
    """Reads ``topics`` from one cluster into ``tables``, handing touched cases to ``project``."""

    def __init__(
        self,
        database: Database,
        bootstrap: str,
        topics: Iterable[str],
        tables: TimelineTables,
        project: Project,
        client_id: str,
        pass_on: Pass | None = None,
        security: ClientSecurity = PLAINTEXT,
    ) -> None:
        self.database = database
        self.bootstrap = bootstrap
        self.security = security
        """How the reader logs in to the cluster (:mod:`cityloop_shared.messaging.security`)."""
        self.topics = tuple(topics)
        self.tables = tables
        self.project = project
        self.client_id = client_id
        self.pass_on = pass_on
        self.read_to: dict[TopicPartition, int] = {}
        """The next offset of each partition, as last committed."""
        self.applied = 0
        self._consumer: RecordReader | None = None
        # Its reader waits out a broker that is down rather than asking it again at once.
        pace_metadata_updates()

    async def run(self) -> None:
        """Until cancelled; a broken connection starts the reading over from the positions."""
        pause = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timeline.restarting", client=self.client_id, pause_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _follow(self) -> None:
        consumer = record_reader(
            self.bootstrap,
            self.security,
            client_id=self.client_id,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            assigned = await self._assign(consumer)
            stored = await self._positions()
            for tp in assigned:
                # From the first offset kept when nothing was read yet (the reset policy
                # moves a position the log no longer holds to its start).
                consumer.seek(tp, stored.get(tp, 0))
            self.read_to = {tp: stored.get(tp, 0) for tp in assigned}
            self._consumer = consumer
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                records = [record for part in batch.values() for record in part]
                if records:
                    await retrying(functools.partial(self._apply, records), self.database)
        finally:
            self._consumer = None
            await consumer.stop()

    async def lag(self) -> dict[TopicPartition, int]:
        """Per partition: its end as of the last fetch, less the next offset committed. A
        partition not fetched yet is left out (its end is not known)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lag: dict[TopicPartition, int] = {}
        for tp, read_to in self.read_to.items():
            end = consumer.highwater(tp)
            if end is not None:
                lag[tp] = max(end - read_to, 0)
        return lag

    async def _assign(self, consumer: RecordReader) -> list[TopicPartition]:
        """Every partition of the topics, once each topic exists."""
        while True:
            assigned = await topic_partitions(self.bootstrap, self.topics, self.security)
            missing = set(self.topics) - {tp.topic for tp in assigned}
            if not missing:
                break
            log.info("timeline.waiting_for_topics", missing=sorted(missing))
            await asyncio.sleep(1.0)
        consumer.assign(assigned)
        return assigned

    async def _positions(self) -> dict[TopicPartition, int]:
        positions = self.tables.positions
        async with self.database.reading() as reader:
            rows = await reader.rows(select(positions))
        return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def _apply(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        timeline = self.tables.timeline
        now = datetime.now(UTC)
        events: dict[UUID, tuple[CaseEvent, ConsumerRecord[Any, Any]]] = {}
        for record in records:
            try:
                event = decode(record.value)
            except UndecodableEvent as error:
                log.warning(
                    "timeline.undecodable",
                    source=f"{record.topic}/{record.partition}/{record.offset}",
                    reason=str(error),
                )
                continue
            events.setdefault(event.event_id, (event, record))
        reached: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            reached[tp] = max(reached.get(tp, 0), record.offset + 1)
        async with self.database.begin() as uow:
            known = (
                {
                    row["event_id"]
                    for row in await uow.rows(
                        select(timeline.c.event_id).where(timeline.c.event_id.in_(list(events)))
                    )
                }
                if events
                else set()
            )
            new = [(e, r) for event_id, (e, r) in events.items() if event_id not in known]
            if new:
                uow.insert(timeline, [_timeline_row(e, r, now) for e, r in new])
            for tp, offset in reached.items():
                uow.upsert(
                    self.tables.positions,
                    ["topic", "partition"],
                    {"topic": tp.topic, "partition": tp.partition, "next_offset": offset},
                )
            touched = {e.case_id for e, _ in new}
            if touched:
                await self.project(uow, await histories(uow, timeline, touched))
            if new and self.pass_on is not None:
                await self.pass_on([e for e, _ in new])
        self.read_to.update(reached)
        self.applied += len(new)


async def histories(
    uow: UnitOfWork, timeline: Table, case_ids: Iterable[UUID]
) -> dict[UUID, list[CaseEvent]]:
    """The whole history read so far of each case."""
    bodies = await uow.rows(
        select(timeline.c.case_id, timeline.c.body).where(timeline.c.case_id.in_(list(case_ids)))
    )
    found: dict[UUID, list[CaseEvent]] = defaultdict(list)
    for row in bodies:
        found[row["case_id"]].append(decode(row["body"]))
    return found


def _timeline_row(
    event: CaseEvent, record: ConsumerRecord[Any, Any], now: datetime
) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "event_type": event.event_type,
        "site": event.site,
        "occurred_at": event.occurred_at,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "logged_at": datetime.fromtimestamp(record.timestamp / 1000, UTC),
        "applied_at": now,
        "body": bytes(record.value).decode(),
    }
