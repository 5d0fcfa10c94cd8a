"""The topic mirror between two real site clusters (a district's and the city's): every record
copied once, in order, to its own partition, across cancellations, a kill -9, a target outage
and a selection; and the lag it reports."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cityloop_deploy.cluster_fixtures import SiteClusters
from cityloop_deploy.site_fixtures import eventually
from cityloop_sync.mirror import SOURCE_OFFSET_HEADER, Mirror, MirrorLink, Select

DISTRICT = "370212"
CITY = "370200"
BASE_TS = 1_600_000_000_000  # long past: the topics keep records forever, whatever their age

Records = dict[int, list[ConsumerRecord[bytes, bytes]]]


@dataclass
class Sites:
    source: str
    target: str
    unique_name: Callable[[str], str]
    created: list[str] = field(default_factory=list)

    async def topic(self, partitions: int = 3) -> str:
        """A new topic on the source only: the mirror makes it on the target."""
        name = self.unique_name("mirror")
        self.created.append(name)
        admin: Any = AIOKafkaAdminClient(bootstrap_servers=self.source)
        await admin.start()
        try:
            response = await admin.create_topics(
                [NewTopic(name, partitions, 1, topic_configs={"retention.ms": "-1"})]
            )
            assert [code for _, code, *_ in response.topic_errors] == [0]
        finally:
            await admin.close()
        return name

    def link(self, *topics: str, select: Select | None = None) -> MirrorLink:
        return MirrorLink(
            name=f"{DISTRICT} → {CITY}",
            source_bootstrap=self.source,
            target_bootstrap=self.target,
            topics=topics,
            select=select,
        )


@pytest_asyncio.fixture
async def sites(
    site_clusters: SiteClusters, unique_name: Callable[[str], str]
) -> AsyncIterator[Sites]:
    found = Sites(site_clusters.bootstrap(DISTRICT), site_clusters.bootstrap(CITY), unique_name)
    try:
        yield found
    finally:
        if found.created:
            for bootstrap in (found.source, site_clusters.bootstrap(CITY)):
                admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
                await admin.start()
                try:
                    existing = set(await admin.list_topics())
                    gone = [topic for topic in found.created if topic in existing]
                    if gone:
                        await admin.delete_topics(gone)
                finally:
                    await admin.close()


@pytest_asyncio.fixture
async def writer(sites: Sites) -> AsyncIterator[Writer]:
    producer = AIOKafkaProducer(bootstrap_servers=sites.source, enable_idempotence=True)
    await producer.start()
    try:
        yield Writer(producer)
    finally:
        await producer.stop()


class Writer:
    """Writes numbered records to the source: key `k<n % 7>` or as asked, value `v<n>` (a
    few without key or value), a timestamp of its own and headers, round-robin over
    partitions. `relayed` records carry a source-offset header already, as records mirrored
    once before would."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.written = 0
        self.to: Counter[str] = Counter()

    async def write(
        self,
        topic: str,
        count: int,
        partitions: int = 3,
        key: Callable[[int], bytes] | None = None,
        relayed: bool = False,
    ) -> None:
        sent = []
        for _ in range(count):
            n = self.written
            self.written += 1
            self.to[topic] += 1
            headers = [("n", str(n).encode()), ("origin", b"test")] if n % 5 else []
            if relayed:
                headers.append((SOURCE_OFFSET_HEADER, b"7"))
            sent.append(
                await self.producer.send(
                    topic,
                    f"v{n}".encode() if n % 50 != 7 else None,
                    key=(key(n) if key else f"k{n % 7}".encode()) if n % 50 != 9 else None,
                    partition=n % partitions,
                    timestamp_ms=BASE_TS + 1000 * n,
                    headers=headers,
                )
            )
        await asyncio.gather(*sent)

    async def stream(self, topic: str, per_tick: int, tick_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.write(topic, per_tick)
            await asyncio.sleep(tick_s)


async def read_all(bootstrap: str, topic: str) -> Records:
    """Every record of the topic now, by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: Records = {tp.partition: [] for tp in partitions}
        async with asyncio.timeout(30):
            while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
                for tp, batch in (await consumer.getmany(timeout_ms=200)).items():
                    found[tp.partition].extend(r for r in batch if r.offset < ends[tp])
        return found
    finally:
        await consumer.stop()


def source_offset(record: ConsumerRecord[bytes, bytes]) -> int:
    *_, value = [v for k, v in record.headers if k == SOURCE_OFFSET_HEADER]
    return int(value.decode("ascii"))


def assert_mirrored(
    source: Records,
    target: Records,
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda _: True,
) -> int:
    """The target holds exactly the kept source records, partition by partition, in order,
    each once, as it was plus the source-offset header; the number of records it holds."""
    assert set(target) >= set(source)
    for partition in target:
        expected = [record for record in source.get(partition, []) if keep(record)]
        got = target[partition]
        assert [source_offset(r) for r in got] == [r.offset for r in expected], (
            f"partition {partition}: source offsets on the target differ from the source's"
        )
        for was, copy in zip(expected, got, strict=True):
            assert (copy.key, copy.value, copy.timestamp) == (was.key, was.value, was.timestamp)
            offset_header = (SOURCE_OFFSET_HEADER, str(was.offset).encode())
            assert list(copy.headers) == [*was.headers, offset_header]
    return sum(len(records) for records in target.values())


async def target_count(sites: Sites, topic: str) -> int:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=sites.target)
    consumer = AIOKafkaConsumer(bootstrap_servers=sites.target, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        [described] = await admin.describe_topics([topic])
        if described["error_code"] != 0:
            return 0
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
        await admin.close()


async def until_target_holds(sites: Sites, topic: str, count: int, within: float = 30.0) -> None:
    await eventually(lambda: target_count(sites, topic), lambda n: n >= count, within)


@contextlib.asynccontextmanager
async def running(mirror: Mirror) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(mirror.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, lambda ok: ok, within)


async def test_copies_every_record_to_its_partition_in_order_with_all_it_carries(
    sites: Sites, writer: Writer
) -> None:
    three, one = await sites.topic(3), await sites.topic(1)
    await writer.write(three, 600)
    await writer.write(one, 100, partitions=1)
    mirror = Mirror(sites.link(three, one))

    async with running(mirror):
        await until_target_holds(sites, three, 600)
        await until_target_holds(sites, one, 100)
        await until(lambda: mirror.copied == 700)

    target = await read_all(sites.target, three)
    assert assert_mirrored(await read_all(sites.source, three), target) == 600
    single = await read_all(sites.target, one)
    assert assert_mirrored(await read_all(sites.source, one), single) == 100
    assert sorted(target) == [0, 1, 2]
    assert any(r.key is None for r in target[0])
    assert any(r.value is None for r in target[1])
    assert await topic_configs(sites.target, three) >= {
        ("retention.ms", "-1"),
        ("cleanup.policy", "delete"),
    }


async def topic_configs(bootstrap: str, topic: str) -> set[tuple[str, str]]:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    return {(entry[0], entry[1]) for entry in entries}


async def test_a_mirror_cancelled_mid_stream_is_finished_by_the_next_without_duplicate_or_gap(
    sites: Sites, writer: Writer
) -> None:
    topic = await sites.topic(3)
    stop = asyncio.Event()
    stream = asyncio.create_task(writer.stream(topic, per_tick=60, tick_s=0.01, stop=stop))
    try:
        first = Mirror(sites.link(topic))
        async with running(first):
            await until(lambda: first.copied >= 1500)
        # Cancelled while records flow in and are being copied.
        assert first.copied < writer.written
        await asyncio.sleep(0.5)
        second = Mirror(sites.link(topic))
        async with running(second):
            await asyncio.sleep(1.0)
            stop.set()
            await stream
            await until_target_holds(sites, topic, writer.written)
            await asyncio.sleep(1.0)  # anything repeated would land by now
    finally:
        stop.set()
        await stream

    assert second.copied > 0
    held = assert_mirrored(await read_all(sites.source, topic), await read_all(sites.target, topic))
    assert held == writer.written


def keep_by_key(record: ConsumerRecord[bytes, bytes]) -> bool:
    return record.key is not None and record.key.startswith(b"keep")


def kept_in(records: Records) -> int:
    return sum(keep_by_key(record) for batch in records.values() for record in batch)


async def select_by_key(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[bool]:
    return [keep_by_key(record) for record in records]


async def test_select_copies_only_the_chosen_records_and_a_restart_repeats_none(
    sites: Sites, writer: Writer
) -> None:
    topic = await sites.topic(3)

    def mixed(n: int) -> bytes:
        return f"{'keep' if n % 3 == 0 else 'drop'}-{n}".encode()

    # Relayed: the mirror must resume from the header it wrote, not from the one before it.
    await writer.write(topic, 300, key=mixed, relayed=True)
    # The target's last record is then far behind where the first mirror read to.
    await writer.write(topic, 150, key=lambda n: f"drop-{n}".encode(), relayed=True)
    kept_first = kept_in(await read_all(sites.source, topic))

    first = Mirror(sites.link(topic, select=select_by_key))
    async with running(first):
        await until_target_holds(sites, topic, kept_first)
        await until(lambda: bool(first.lag()) and all(lag.behind == 0 for lag in first.lag()))
    assert first.copied == kept_first

    await writer.write(topic, 300, key=mixed, relayed=True)
    source = await read_all(sites.source, topic)
    kept = kept_in(source)
    second = Mirror(sites.link(topic, select=select_by_key))
    async with running(second):
        await until_target_holds(sites, topic, kept)
        await until(lambda: bool(second.lag()) and all(lag.behind == 0 for lag in second.lag()))

    assert second.copied == kept - kept_first
    assert assert_mirrored(source, await read_all(sites.target, topic), keep_by_key) == kept


async def test_the_target_down_and_up_again_ends_with_exactly_the_source(
    sites: Sites, writer: Writer, site_clusters: SiteClusters
) -> None:
    topic, other = await sites.topic(3), await sites.topic(1)
    stop = asyncio.Event()
    stream = asyncio.create_task(writer.stream(topic, per_tick=5, tick_s=0.02, stop=stop))
    mirror, stopped = Mirror(sites.link(topic)), Mirror(sites.link(other))
    try:
        async with running(mirror), running(stopped) as stopping:
            # Sent to before, so that the producer knows the partition's leader and queues
            # what comes next for it instead of waiting on metadata.
            await writer.write(other, 10, partitions=1)
            await until(lambda: mirror.copied >= 200 and stopped.copied == 10)
            before = writer.to[topic]
            await asyncio.to_thread(site_clusters.stop, CITY)
            try:
                await asyncio.sleep(3)
                # A mirror cancelled while its sends wait on the absent target stops at once
                # instead of waiting for the target to come back.
                await writer.write(other, 50, partitions=1)
                await asyncio.sleep(2)
                clock = asyncio.get_running_loop().time
                began = clock()
                stopping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stopping
                assert clock() - began < 3.0
                await asyncio.sleep(10)
                assert writer.to[topic] > before + 500
            finally:
                await asyncio.to_thread(site_clusters.start, CITY)
            await asyncio.sleep(2)
            stop.set()
            await stream
            await until_target_holds(sites, topic, writer.to[topic], within=40)
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await stream
    assert stopped.copied == 10
    async with running(Mirror(sites.link(other))):
        await until_target_holds(sites, other, 60)
        await asyncio.sleep(0.5)

    held = assert_mirrored(await read_all(sites.source, topic), await read_all(sites.target, topic))
    assert held == writer.to[topic]
    assert_mirrored(await read_all(sites.source, other), await read_all(sites.target, other))


async def test_lag_counts_what_is_not_copied_yet_and_since_when(
    sites: Sites, writer: Writer
) -> None:
    topic = await sites.topic(3)
    gate = asyncio.Event()

    async def held_back(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[bool]:
        await gate.wait()
        return [True] * len(records)

    mirror = Mirror(sites.link(topic, select=held_back))
    assert not mirror.ready
    assert mirror.lag() == []

    await writer.write(topic, 30)  # 10 a partition, record n in partition n % 3
    async with running(mirror):
        # A batch fetched and waiting on select: its first records' times are known.
        await until(lambda: any(lag.oldest_waiting_at for lag in mirror.lag()), within=10)
        assert mirror.ready
        waiting = {lag.partition: lag for lag in mirror.lag()}
        assert sorted(waiting) == [0, 1, 2]
        assert all(lag.behind == 10 and lag.topic == topic for lag in waiting.values())
        known = [p for p, lag in waiting.items() if lag.oldest_waiting_at is not None]
        for partition in known:
            assert waiting[partition].oldest_waiting_at == at(partition)

        # Written while the batch waits: the source's end is followed all the same.
        await writer.write(topic, 30)
        await until(lambda: sum(lag.behind for lag in mirror.lag()) == 60, within=10)
        assert mirror.copied == 0

        gate.set()
        await until(lambda: mirror.copied == 60)
        await until(lambda: all(lag.behind == 0 for lag in mirror.lag()))
        assert [lag.oldest_waiting_at for lag in mirror.lag()] == [None, None, None]


def at(n: int) -> datetime:
    return datetime.fromtimestamp((BASE_TS + 1000 * n) / 1000, UTC)


KILLED_MIRROR = """
import asyncio, sys
from cityloop_sync.mirror import Mirror, MirrorLink
source, target, topic = sys.argv[1:]
asyncio.run(Mirror(MirrorLink("kill -9", source, target, (topic,))).run())
"""


@contextlib.contextmanager
def mirror_process(sites: Sites, topic: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_MIRROR, sites.source, sites.target, topic],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


async def test_a_mirror_killed_mid_stream_is_finished_by_the_next_without_duplicate_or_gap(
    sites: Sites, writer: Writer, tmp_path: Path
) -> None:
    topic = await sites.topic(3)
    stop = asyncio.Event()
    stream = asyncio.create_task(writer.stream(topic, per_tick=60, tick_s=0.01, stop=stop))
    try:
        for round_ in range(3):
            with mirror_process(sites, topic, tmp_path / f"mirror-{round_}.log") as process:
                floor = await target_count(sites, topic)
                await until_target_holds(sites, topic, floor + 500)
                process.send_signal(signal.SIGKILL)
                await asyncio.to_thread(process.wait)
        stop.set()
        await stream
        last = Mirror(sites.link(topic))
        async with running(last):
            await until_target_holds(sites, topic, writer.written)
            await asyncio.sleep(1.0)
    finally:
        stop.set()
        await stream

    held = assert_mirrored(await read_all(sites.source, topic), await read_all(sites.target, topic))
    assert held == writer.written
