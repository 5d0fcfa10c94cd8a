"""The embedded log keeps Kafka's promises the services rely on: order per topic, records on
disk once acknowledged, group positions moved only by a commit after the handler."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from cityloop_shared.messaging.clients import (
    EmbeddedGroupConsumer,
    record_reader,
    record_writer,
    topic_partitions,
)
from cityloop_shared.messaging.embedded import EmbeddedLog, embedded_bootstrap, is_embedded


def _bootstrap(tmp_path: Path) -> str:
    return embedded_bootstrap(tmp_path / "log.sqlite")


def test_the_bootstrap_setting_names_an_embedded_log_or_a_cluster(tmp_path: Path) -> None:
    assert is_embedded(_bootstrap(tmp_path))
    assert not is_embedded("127.0.0.1:19092")


async def test_records_keep_their_order_per_topic_and_survive_reopening(tmp_path: Path) -> None:
    log = EmbeddedLog.at(_bootstrap(tmp_path))
    offsets = await log.append(
        [
            ("a", b"k1", b"one", [("type", b"x")]),
            ("b", None, b"other", []),
            ("a", b"k2", b"two", []),
        ]
    )
    assert offsets == [0, 0, 1]

    reopened = EmbeddedLog(tmp_path / "log.sqlite")
    assert reopened.end("a") == 2
    records = await reopened.read({"a": 0}, 10, 0)
    assert [(r.offset, r.key, r.value) for r in records] == [(0, b"k1", b"one"), (1, b"k2", b"two")]
    assert records[0].headers == (("type", b"x"),)
    assert (await reopened.read({"a": 1, "b": 0}, 10, 0))[0].value == b"two"


async def test_a_reader_waiting_for_records_wakes_when_one_is_written(tmp_path: Path) -> None:
    log = EmbeddedLog.at(_bootstrap(tmp_path))
    waiting = asyncio.create_task(log.read({"a": 0}, 10, 30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await log.append([("a", None, b"now", [])])
    records = await asyncio.wait_for(waiting, 2)
    assert [r.value for r in records] == [b"now"]


async def test_the_writer_sends_a_batch_in_order_and_answers_each_offset(tmp_path: Path) -> None:
    writer = record_writer(_bootstrap(tmp_path))
    await writer.start()
    sent = [await writer.send("a", f"{n}".encode(), key=b"case") for n in range(5)]
    assert await asyncio.gather(*sent) == [0, 1, 2, 3, 4]
    assert await writer.send_and_wait("a", b"5") == 5
    await writer.stop()
    records = await EmbeddedLog.at(_bootstrap(tmp_path)).read({"a": 0}, 10, 0)
    assert [r.value for r in records] == [b"0", b"1", b"2", b"3", b"4", b"5"]


async def test_an_assigned_reader_reads_from_where_it_is_told(tmp_path: Path) -> None:
    bootstrap = _bootstrap(tmp_path)
    await EmbeddedLog.at(bootstrap).append([("a", None, b"%d" % n, []) for n in range(4)])
    reader = record_reader(bootstrap)
    await reader.start()
    assigned = await topic_partitions(bootstrap, ["a"])
    reader.assign(assigned)
    reader.seek(TopicPartition("a", 0), 2)
    batch = await reader.getmany(timeout_ms=100, max_records=10)
    assert [r.value for r in batch[TopicPartition("a", 0)]] == [b"2", b"3"]
    assert reader.highwater(TopicPartition("a", 0)) == 4
    assert await reader.getmany(timeout_ms=50) == {}
    await reader.stop()


async def test_a_group_reads_again_what_its_handler_failed_and_resumes_after_a_commit(
    tmp_path: Path,
) -> None:
    bootstrap = _bootstrap(tmp_path)
    log = EmbeddedLog.at(bootstrap)
    await log.append([("a", None, b"first", []), ("a", None, b"second", [])])
    seen: list[bytes] = []
    both = asyncio.Event()
    failed_once = False

    async def handler(records: Sequence[Any]) -> None:
        nonlocal failed_once
        if not failed_once:
            failed_once = True
            raise RuntimeError("the database is away")
        seen.extend(r.value for r in records)
        if len(seen) >= 2:
            both.set()

    group = EmbeddedGroupConsumer(bootstrap, "casefile", ["a"], handler)
    running = asyncio.create_task(group.run())
    try:
        await asyncio.wait_for(both.wait(), 5)
        assert seen == [b"first", b"second"]
        for _ in range(250):  # the group commits after the handler returned
            if await log.committed("casefile", ["a"]) == {"a": 2}:
                break
            await asyncio.sleep(0.02)
        assert await log.committed("casefile", ["a"]) == {"a": 2}
        assert group.lag() == {TopicPartition("a", 0): 0}
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    await log.append([("a", None, b"third", [])])
    resumed: list[bytes] = []
    arrived = asyncio.Event()

    async def after(records: Sequence[Any]) -> None:
        resumed.extend(r.value for r in records)
        arrived.set()

    again = asyncio.create_task(EmbeddedGroupConsumer(bootstrap, "casefile", ["a"], after).run())
    try:
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        again.cancel()
        await asyncio.gather(again, return_exceptions=True)
    assert resumed == [b"third"]


async def test_many_groups_and_writers_at_once_each_read_every_record_once_in_order(
    tmp_path: Path,
) -> None:
    bootstrap = _bootstrap(tmp_path)
    topics = [f"t{n}" for n in range(6)]
    rng = random.Random(7)
    followed = {f"g{n}": rng.sample(topics, 3) for n in range(12)}
    seen: dict[str, list[tuple[str, int]]] = {group: [] for group in followed}

    def handler_of(group: str) -> Callable[[Sequence[Any]], Awaitable[None]]:
        async def handle(records: Sequence[Any]) -> None:
            seen[group].extend((r.topic, int(r.value)) for r in records)

        return handle

    groups = [
        asyncio.create_task(EmbeddedGroupConsumer(bootstrap, g, t, handler_of(g)).run())
        for g, t in followed.items()
    ]
    writers = [record_writer(bootstrap) for _ in range(4)]
    for writer in writers:
        await writer.start()
    sent: dict[str, int] = dict.fromkeys(topics, 0)

    async def write(writer: Any, rounds: int) -> None:
        for _ in range(rounds):
            batch = []
            for _ in range(rng.randint(1, 15)):
                topic = rng.choice(topics)
                batch.append(await writer.send(topic, str(sent[topic]).encode()))
                sent[topic] += 1
            await asyncio.gather(*batch)
            await asyncio.sleep(rng.random() * 0.005)

    await asyncio.gather(*(write(writer, 60) for writer in writers))
    try:
        for _ in range(500):
            if all(len(seen[g]) == sum(sent[t] for t in followed[g]) for g in followed):
                break
            await asyncio.sleep(0.02)
    finally:
        for group in groups:
            group.cancel()
        await asyncio.gather(*groups, return_exceptions=True)
    for group, group_topics in followed.items():
        for topic in group_topics:
            read = [n for t, n in seen[group] if t == topic]
            assert read == list(range(sent[topic])), (group, topic)
