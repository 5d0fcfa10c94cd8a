"""FastStream on the real broker: consumer groups keep key order, failures are redelivered,
batches gather what arrives within their wait."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaMessage

from cityloop_shared.messaging.broker import batch_options, build_broker, subscriber_options
from cityloop_shared.settings import KafkaSettings

TopicFactory = Callable[..., Awaitable[str]]


async def test_a_consumer_group_receives_each_key_in_order_on_one_partition(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    topic = await kafka_topic_factory(unique_name("order"), partitions=3)
    keys = [f"case-{n}" for n in range(6)]
    per_key = 40
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    done = asyncio.Event()

    broker = build_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap))

    @broker.subscriber(topic, **subscriber_options(unique_name("group")))  # type: ignore[untyped-decorator]
    async def handle(body: bytes, message: KafkaMessage) -> None:
        key, sequence = body.decode().split(":")
        seen[key].append((int(sequence), message.raw_message.partition))  # type: ignore[union-attr]
        if sum(map(len, seen.values())) == len(keys) * per_key:
            done.set()

    async with broker:
        await broker.start()
        for sequence in range(per_key):
            for key in keys:
                await broker.publish(f"{key}:{sequence}".encode(), topic, key=key.encode())
        await asyncio.wait_for(done.wait(), 30)

    assert set(seen) == set(keys)
    partitions_used = set()
    for key, deliveries in seen.items():
        assert [sequence for sequence, _ in deliveries] == list(range(per_key)), key
        assert len({partition for _, partition in deliveries}) == 1, key
        partitions_used |= {partition for _, partition in deliveries}
    assert len(partitions_used) > 1, "keys should spread over the partitions"


async def test_a_message_whose_handler_raises_is_redelivered_not_lost(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    topic = await kafka_topic_factory(unique_name("redeliver"), partitions=1)
    attempts: dict[str, int] = defaultdict(int)
    handled: list[str] = []
    done = asyncio.Event()

    broker = build_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap))

    @broker.subscriber(topic, **subscriber_options(unique_name("group")))  # type: ignore[untyped-decorator]
    async def handle(body: bytes) -> None:
        text = body.decode()
        attempts[text] += 1
        if text == "second" and attempts[text] < 3:
            raise RuntimeError("database is down")
        handled.append(text)
        if text == "third":
            done.set()

    async with broker:
        await broker.start()
        for text in ("first", "second", "third"):
            await broker.publish(text.encode(), topic, key=b"one-case")
        await asyncio.wait_for(done.wait(), 30)

    assert handled == ["first", "second", "third"]
    assert attempts == {"first": 1, "second": 3, "third": 1}


async def test_offsets_are_committed_only_for_handled_messages(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    """A process that stops after a failure resumes, in the same group, at the failed record."""
    topic = await kafka_topic_factory(unique_name("resume"), partitions=1)
    group = unique_name("group")
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)

    first_run: list[str] = []
    failed = asyncio.Event()
    broker = build_broker(settings)

    @broker.subscriber(topic, **subscriber_options(group))  # type: ignore[untyped-decorator]
    async def crash_on_b(body: bytes) -> None:
        if body == b"b":
            failed.set()
            raise RuntimeError("crash before b is applied")
        first_run.append(body.decode())

    async with broker:
        await broker.start()
        for text in ("a", "b", "c"):
            await broker.publish(text.encode(), topic, key=b"k")
        await asyncio.wait_for(failed.wait(), 30)

    second_run: list[str] = []
    done = asyncio.Event()
    restarted = build_broker(settings)

    @restarted.subscriber(topic, **subscriber_options(group))  # type: ignore[untyped-decorator]
    async def apply_all(body: bytes) -> None:
        second_run.append(body.decode())
        if body == b"c":
            done.set()

    async with restarted:
        await restarted.start()
        await asyncio.wait_for(done.wait(), 30)

    assert first_run == ["a"]
    assert second_run == ["b", "c"]


async def batch_sizes(
    settings: KafkaSettings, topic: str, group: str, records: int, spacing: float
) -> list[int]:
    """The batches a batch subscriber gets for records published ``spacing`` seconds apart,
    once it is reading."""
    sizes: list[int] = []
    reading, done = asyncio.Event(), asyncio.Event()
    broker = build_broker(settings)

    @broker.subscriber(topic, **batch_options(settings), **subscriber_options(group))  # type: ignore[untyped-decorator]
    async def handle(message: KafkaMessage) -> None:
        bodies = [record.value for record in message.raw_message]  # type: ignore[union-attr]
        if b"first" in bodies:
            bodies.remove(b"first")
            reading.set()
        if bodies:
            sizes.append(len(bodies))
        if sum(sizes) == records:
            done.set()

    async with broker:
        await broker.start()
        await broker.publish(b"first", topic)
        await asyncio.wait_for(reading.wait(), 30)
        for number in range(records):
            await broker.publish(str(number).encode(), topic)
            await asyncio.sleep(spacing)
        await asyncio.wait_for(done.wait(), 30)
    return sizes


async def test_a_batch_waits_for_records_arriving_within_its_wait(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    topic = await kafka_topic_factory(unique_name("linger"), partitions=1)
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, batch_min_bytes=1_000_000, batch_wait_ms=2_000
    )

    sizes = await batch_sizes(settings, topic, unique_name("group"), records=5, spacing=0.1)

    # Published within 0.5 s: at most two 2-second waits can share them.
    assert len(sizes) <= 2, sizes


async def test_without_a_wait_each_record_is_its_own_batch(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_name: Callable[[str], str]
) -> None:
    topic = await kafka_topic_factory(unique_name("eager"), partitions=1)
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, batch_min_bytes=1)

    sizes = await batch_sizes(settings, topic, unique_name("group"), records=5, spacing=0.3)

    assert len(sizes) >= 4, sizes
