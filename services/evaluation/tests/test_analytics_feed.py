"""The analysts' feed after a Kafka failure: the batch is refused as a whole, so the follower
reads it again, and a fresh producer passes it on (an idempotent producer whose batches
expired refuses every later send)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from aiokafka.errors import KafkaTimeoutError

from cityloop_evaluation import analytics
from cityloop_evaluation.analytics import AnalyticsFeed
from cityloop_shared.testing.stories import Story

pytestmark = pytest.mark.unit


class Producer:
    """Stands in for aiokafka's producer: the first one made fails its second delivery."""

    made: ClassVar[list[Producer]] = []

    def __init__(self, *args: Any, **options: Any) -> None:
        self.failing = not Producer.made
        self.delivered: list[bytes] = []
        self.stopped = False
        Producer.made.append(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, **options: Any) -> asyncio.Future[None]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failing and self.delivered:
            delivery.set_exception(KafkaTimeoutError("batch expired"))
        else:
            self.delivered.append(value)
            delivery.set_result(None)
        return delivery


async def test_a_failed_batch_is_refused_and_sent_again_by_a_fresh_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(analytics, "record_writer", Producer)
    Producer.made = []
    events = Story().reported(datetime(2026, 3, 2, 9, tzinfo=UTC), by="sv-370212-01").events * 3
    feed = AnalyticsFeed("127.0.0.1:9", "cityloop.370212.analytics.v1")
    await feed.start()
    with pytest.raises(KafkaTimeoutError):
        await feed(events)
    first, fresh = Producer.made
    assert (first.stopped, fresh.stopped) == (True, False)
    await feed(events)
    assert len(fresh.delivered) == len(events)
