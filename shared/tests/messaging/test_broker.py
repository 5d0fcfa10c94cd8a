"""FastStream on the real broker: consumer groups keep key order, failures are redelivered."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaMessage

from cityloop_shared.messaging.broker import build_broker, subscriber_options
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
