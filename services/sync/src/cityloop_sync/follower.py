"""The projection's reader: every case topic of the city's districts and of the city itself,
as they are on the city's cluster, applied batch by batch in one transaction each.

No consumer group: where each topic was read to is the projection's own, written with what
it applied, so the two never disagree.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select

from cityloop_shared.contract.codec import UndecodableEvent, decode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.logging import get_logger
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.runtime.service import retrying
from cityloop_sync.projection import fold
from cityloop_sync.store import city_cases, city_timeline, positions

log = get_logger("cityloop.sync.projection")


class ProjectionFollower:
    """Reads ``topics`` from the city's cluster into the projection."""

    def __init__(self, database: Database, bootstrap: str, topics: Iterable[str]) -> None:
        self.database = database
        self.bootstrap = bootstrap
        self.topics = tuple(topics)
        self.read_to: dict[TopicPartition, int] = {}
        """The next offset of each partition, as last committed."""
        self.applied = 0

    async def run(self) -> None:
        """Until cancelled; a broken connection starts the reading over from the positions."""
        pause = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("projection.restarting", pause_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            client_id="cityloop-sync-projection",
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
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                records = [record for part in batch.values() for record in part]
                if records:
                    await retrying(functools.partial(self._apply, records), self.database)
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the topics, as the broker describes them: a consumer's own
        metadata need not know a topic made a moment ago."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            while True:
                described = await admin.describe_topics(list(self.topics))
                assigned = [
                    TopicPartition(topic["topic"], partition["partition"])
                    for topic in described
                    if topic["error_code"] == 0
                    for partition in topic["partitions"]
                ]
                missing = set(self.topics) - {tp.topic for tp in assigned}
                if not missing:
                    break
                log.info("projection.waiting_for_topics", missing=sorted(missing))
                await asyncio.sleep(1.0)
        finally:
            await admin.close()
        consumer.assign(assigned)
        return assigned

    async def _positions(self) -> dict[TopicPartition, int]:
        async with self.database.reading() as reader:
            rows = await reader.rows(select(positions))
        return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def _apply(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        now = datetime.now(UTC)
        events: dict[UUID, tuple[CaseEvent, ConsumerRecord[Any, Any]]] = {}
        for record in records:
            try:
                event = decode(record.value)
            except UndecodableEvent as error:
                log.warning(
                    "projection.undecodable",
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
                        select(city_timeline.c.event_id).where(
                            city_timeline.c.event_id.in_(list(events))
                        )
                    )
                }
                if events
                else set()
            )
            new = [(e, r) for event_id, (e, r) in events.items() if event_id not in known]
            if new:
                uow.insert(city_timeline, [_timeline_row(e, r, now) for e, r in new])
            for tp, offset in reached.items():
                uow.upsert(
                    positions,
                    ["topic", "partition"],
                    {"topic": tp.topic, "partition": tp.partition, "next_offset": offset},
                )
            touched = {e.case_id for e, _ in new}
            if touched:
                bodies = await uow.rows(
                    select(city_timeline.c.case_id, city_timeline.c.body).where(
                        city_timeline.c.case_id.in_(list(touched))
                    )
                )
                history: dict[UUID, list[CaseEvent]] = defaultdict(list)
                for row in bodies:
                    history[row["case_id"]].append(decode(row["body"]))
                for case_id in touched:
                    case = fold(history[case_id])
                    if case is not None:
                        row = asdict(case)
                        row["overdue"] = case.overdue
                        row["overdue_steps"] = list(case.overdue_steps)
                        row["status"] = case.status.value
                        uow.upsert(city_cases, ["case_id"], row)
        self.read_to.update(reached)
        self.applied += len(new)


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
