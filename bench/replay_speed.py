"""Replay speed: a site's log read from Kafka into a fresh store, against raw aiokafka
consumption of the same topics in the same run.

    uv run python bench/replay_speed.py --cases 3000

Writes the cases' events (told as the stages log them: report to close, with rework and
returns) to a fresh topic namespace of the local stack's broker, then:

- raw: an aiokafka consumer reads every record of the site's case topics from the start to
  the end (no decoding, nothing stored): the ceiling;
- replay: evaluation's reader (``TimelineFollower``) replays the same log into a fresh
  PostgreSQL schema, decoding each record, keeping its history and judging each case again
  in the batch's transaction, until every event is applied.

Reports events per second of each and the ratio; the aim is at least a third of raw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from uuid import uuid4

import closed_loop
import progress
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from evaluation_query import REFERENCE, story, working_days

from cityloop_deploy import localstack
from cityloop_deploy.fleet import delete_namespace_topics
from cityloop_deploy.probe import described_partitions
from cityloop_evaluation.app import MIGRATIONS
from cityloop_evaluation.projector import Projector
from cityloop_evaluation.store import TIMELINE
from cityloop_shared.adapters import open_database
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import case_topics, event_topic
from cityloop_shared.messaging.topics import ensure_site_topics
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_shared.settings import DatabaseSettings, KafkaSettings

SITE = "370212"


def the_log(cases: int, seed: int) -> list[CaseEvent]:
    rng, days = random.Random(seed), working_days(2026)
    events: list[CaseEvent] = []
    with progress.phase("telling the cases", total=cases, unit="cases") as telling:
        for number in telling.each(range(cases)):
            told = story(number, rng, days)
            events += [e.model_copy(update={"site": SITE}) for e in told.events]
    return events


async def write(bootstrap: str, namespace: str, events: list[CaseEvent]) -> None:
    await ensure_site_topics(KafkaSettings(bootstrap_servers=bootstrap), SITE, namespace)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        with progress.phase("writing the log", total=len(events), unit="events") as writing:
            sent = [
                await producer.send(
                    event_topic(SITE, next(iter(type(e).emitted_by)), namespace),
                    encode(e),
                    key=str(e.case_id).encode(),
                )
                for e in writing.each(events)
            ]
            for delivery in sent:
                await delivery
    finally:
        await producer.stop()


async def raw(bootstrap: str, topics: list[str], expected: int) -> float:
    """Seconds for a bare consumer to read every record once."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    partitions = await described_partitions(admin, topics)
    await admin.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        with progress.phase("raw read", total=expected, unit="records") as reading:
            began = time.perf_counter()
            while reading.done < expected:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                reading.advance(sum(len(records) for records in batch.values()))
            return time.perf_counter() - began
    finally:
        await consumer.stop()


async def replay(bootstrap: str, url: str, schema: str, topics: list[str], expected: int) -> float:
    """Seconds for evaluation's reader to apply every event into a fresh store."""
    database = open_database(DatabaseSettings(url=url, schema_name=schema), schema)
    follower = TimelineFollower(
        database, bootstrap, topics, TIMELINE, Projector(REFERENCE), client_id="bench-replay"
    )
    with progress.phase("replay", total=expected, unit="events", count=lambda: follower.applied):
        began = time.perf_counter()
        task = asyncio.create_task(follower.run())
        try:
            # The reader keeps a count, it signals nothing: polled, which costs the replay
            # nothing.
            while follower.applied < expected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return time.perf_counter() - began
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    stack = localstack.Stack.from_env()
    localstack.up(stack)
    bootstrap, url = stack.settings.kafka_bootstrap, stack.settings.database_url
    namespace = f"b{uuid4().hex[:10]}"
    schema = f"bench_replay_{uuid4().hex[:8]}"
    topics = list(case_topics(SITE, namespace))
    events = the_log(args.cases, args.seed)
    upgrade(DatabaseSettings(url=url, schema_name=schema), schema, MIGRATIONS)
    try:
        asyncio.run(write(bootstrap, namespace, events))
        raw_s = asyncio.run(raw(bootstrap, topics, len(events)))
        replay_s = asyncio.run(replay(bootstrap, url, schema, topics, len(events)))
    finally:
        asyncio.run(delete_namespace_topics(bootstrap, namespace))
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    results = {
        "machine": closed_loop.machine(),
        "cases": args.cases,
        "events": len(events),
        "raw_events_per_s": round(len(events) / raw_s),
        "replay_events_per_s": round(len(events) / replay_s),
        "replay_to_raw": round(raw_s / replay_s, 3),
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
