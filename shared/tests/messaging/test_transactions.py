"""What aiokafka's transactional producer does against the broker CityLoop runs on.

CityLoop's effectively-once processing rests on the inbox and outbox, not on Kafka
transactions (FastStream does not wrap them); these tests keep the finding honest.
See docs/kafka-transactions.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

TopicFactory = Callable[..., Awaitable[str]]


async def _read(bootstrap: str, topic: str, isolation: str, at_least: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        group_id=None,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(15):
            while len(values) < at_least:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    values.extend(record.value for record in records)
        # Give anything further (that must not be there) a chance to show up.
        for records in (await consumer.getmany(timeout_ms=500)).values():
            values.extend(record.value for record in records)
        return values
    finally:
        await consumer.stop()


async def test_commit_and_abort(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    topic = await kafka_topic_factory(unique_name("txn"))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=unique_name("producer")
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
            await producer.send(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3")
    finally:
        await producer.stop()

    committed = await _read(kafka_bootstrap, topic, "read_committed", 3)
    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    everything = await _read(kafka_bootstrap, topic, "read_uncommitted", 4)
    assert b"aborted" in everything


async def test_send_offsets_to_transaction_commits_the_consumers_position_atomically(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    source = await kafka_topic_factory(unique_name("in"))
    sink = await kafka_topic_factory(unique_name("out"))
    group = unique_name("group")
    seed = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await seed.start()
    for text in (b"a", b"b"):
        await seed.send_and_wait(source, text)
    await seed.stop()

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=unique_name("producer")
    )
    await consumer.start()
    await producer.start()
    partition = TopicPartition(source, 0)
    try:
        first = await asyncio.wait_for(consumer.getone(), 15)
        async with producer.transaction():
            await producer.send(sink, first.value.upper())
            await producer.send_offsets_to_transaction({partition: first.offset + 1}, group)
        second = await asyncio.wait_for(consumer.getone(), 15)
        await producer.begin_transaction()
        await producer.send(sink, second.value.upper())
        await producer.send_offsets_to_transaction({partition: second.offset + 1}, group)
        await producer.abort_transaction()
        committed_offset = await consumer.committed(partition)
    finally:
        await producer.stop()
        await consumer.stop()

    assert committed_offset == first.offset + 1, "the aborted offset must not be committed"
    assert await _read(kafka_bootstrap, sink, "read_committed", 1) == [b"A"]
