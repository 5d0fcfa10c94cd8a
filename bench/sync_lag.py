"""Sync lag benchmark: how long an event written at a district takes to show in the city
projection, under the closed-loop bench's load.

    uv run python bench/sync_lag.py --cases 600 --concurrency 80

Starts a Kafka cluster for the districts 370212 and 370202 and for the city 370200 (the
local launcher), every site's services and the city's sync in a fresh topic namespace and
schemas, and drives the closed-loop bench's cases (``bench/closed_loop.py``'s driver) through
370212 while 370202 runs idle. Then reports, for every event the district logged during the
run, the lag from the district's log (the record's timestamp) to the projection showing it,
p50/p99/max, and the same-run ceiling: a bare copy of timestamped records by aiokafka from the
district's cluster to the city's and read back there (no database, no decoding), p50/p99,
with the ratio of the two p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import closed_loop
import progress
import psycopg
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityloop_deploy import localstack
from cityloop_deploy.levels import Levels, SitePlan
from cityloop_deploy.probe import described_partitions
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.topics import Stage, event_topic

DISTRICT, IDLE, CITY = "370212", "370202", "370200"


def lags(levels: Levels) -> list[float]:
    """Seconds from the district's log to the projection, for every event of the district."""
    config = levels[CITY].config
    with psycopg.connect(libpq_url(config.database_url)) as conn:
        conn.execute(f'SET search_path TO "{config.schema("sync")}"')
        rows = conn.execute(
            "SELECT extract(epoch FROM applied_at - logged_at) FROM city_timeline WHERE site = %s",
            (DISTRICT,),
        ).fetchall()
    return [float(row[0]) for row in rows]


async def logged(bootstrap: str, topics: list[str]) -> int:
    """Records on the district's own cluster: what the projection must come to show."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        partitions = await described_partitions(admin, topics)
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
        await admin.close()


def wait_caught_up(levels: Levels, within: float = 300) -> int:
    """Until the projection shows every record of the district's log; their number."""
    config = levels[DISTRICT].config
    topics = [
        event_topic(DISTRICT, stage, config.topic_namespace)
        for stage in Stage
        if stage is not Stage.SYNC
    ]
    expected = uvloop.run(logged(config.kafka_bootstrap, topics))
    deadline = time.monotonic() + within
    with progress.phase("the city catching up", total=expected, unit="events") as shown:
        while time.monotonic() < deadline:
            shown.done = len(lags(levels))
            if shown.done >= expected:
                return expected
            time.sleep(0.5)
    raise RuntimeError(f"the projection did not show the district's {expected} events")


async def bare_copy(source: str, target: str, records: int, rate: float) -> list[float]:
    """The ceiling: timestamped records produced at ``rate`` a second on the source cluster,
    copied by a plain consumer and producer to the target cluster, read there; seconds from
    production to reading."""
    topic = f"bench-copy-{uuid4().hex[:8]}"
    for bootstrap in (source, target):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=source, acks="all", linger_ms=5)
    copier_in = AIOKafkaConsumer(bootstrap_servers=source, enable_auto_commit=False)
    copier_out = AIOKafkaProducer(bootstrap_servers=target, acks="all", linger_ms=5)
    reader = AIOKafkaConsumer(bootstrap_servers=target, enable_auto_commit=False)
    for client in (producer, copier_in, copier_out, reader):
        await client.start()
    partitions = [TopicPartition(topic, p) for p in range(3)]
    copier_in.assign(partitions)
    reader.assign(partitions)
    await copier_in.seek_to_beginning(*partitions)
    await reader.seek_to_beginning(*partitions)
    seen: list[float] = []

    async def copy() -> None:
        while True:
            batch = await copier_in.getmany(timeout_ms=250)
            sent = [
                await copier_out.send(topic, r.value, key=r.key, partition=r.partition)
                for rs in batch.values()
                for r in rs
            ]
            for future in sent:
                await future

    async def read() -> None:
        while len(seen) < records:
            batch = await reader.getmany(timeout_ms=250)
            now = time.time()
            seen.extend(now - float(r.value) for rs in batch.values() for r in rs)

    copying, reading = asyncio.create_task(copy()), asyncio.create_task(read())
    with progress.phase("bare copy", total=records, unit="records", count=lambda: len(seen)):
        for index in range(records):
            await producer.send(topic, str(time.time()).encode(), key=str(index).encode())
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(reading, 60)
    copying.cancel()
    for client in (producer, copier_in, copier_out, reader):
        await client.stop()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    stack = localstack.Stack.from_env()
    addresses = localstack.up_sites(stack, [DISTRICT, IDLE, CITY])
    namespace = f"bench{uuid4().hex[:8]}"
    levels = Levels(
        city=SitePlan(CITY, addresses[CITY]),
        districts=[SitePlan(DISTRICT, addresses[DISTRICT]), SitePlan(IDLE, addresses[IDLE])],
        server_url=stack.settings.database_url,
        log_dir=stack.paths.stack_dir / "bench" / namespace,
        base_port=18900,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env={"CITYLOOP_MODE": "development", "CITYLOOP_LOG_LEVEL": "WARNING"},
    )
    try:
        with progress.phase("starting the sites' services"):
            levels.start()

        async def drive() -> float:
            driver = closed_loop.Driver(levels[DISTRICT])
            try:
                with progress.phase(
                    f"closing cases at {DISTRICT}",
                    total=args.cases,
                    unit="cases",
                    count=lambda: len(driver.closed),
                ):
                    return await driver.run(args.cases, args.concurrency)
            finally:
                await driver.close()

        seconds = uvloop.run(drive())
        expected = wait_caught_up(levels)
        measured = lags(levels)
        assert len(measured) == expected, (len(measured), expected)
        events_per_second = len(measured) / seconds
    finally:
        levels.stop()
        levels.clear_away()
    ceiling = uvloop.run(
        bare_copy(addresses[DISTRICT], addresses[CITY], min(len(measured), 5000), events_per_second)
    )
    p99 = closed_loop.percentile(measured, 0.99)
    ceiling_p99 = closed_loop.percentile(ceiling, 0.99)
    results: dict[str, Any] = {
        "machine": closed_loop.machine(),
        "cases": args.cases,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 2),
        "district_events": len(measured),
        "district_events_per_second": round(events_per_second, 1),
        "lag_ms_p50_p99_max": [
            round(1000 * closed_loop.percentile(measured, 0.5), 1),
            round(1000 * p99, 1),
            round(1000 * max(measured), 1),
        ],
        "bare_copy_ms_p50_p99": [
            round(1000 * closed_loop.percentile(ceiling, 0.5), 1),
            round(1000 * ceiling_p99, 1),
        ],
        "p99_to_bare_copy_p99": round(p99 / ceiling_p99, 2),
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
