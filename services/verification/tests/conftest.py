"""The verification service in this test's process, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer

import cityloop_verification
from cityloop_deploy.site_fixtures import serve_in_process
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.messaging import headers
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

Publish = Callable[[Stage, CaseEvent], Awaitable[None]]


@pytest_asyncio.fixture
async def verification(
    service_settings: ServiceSettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async with serve_in_process(cityloop_verification, service_settings) as served:
        yield served


@pytest_asyncio.fixture
async def publish(service_settings: ServiceSettings) -> AsyncIterator[Publish]:
    """``publish(stage, event)``: an event the test made itself (at a moment it chose, or one
    sent before, again) on that stage's topic, with the headers its relay sets. ``upstream``
    stamps every event with the wall clock; the check's due time depends on the moment."""
    producer = AIOKafkaProducer(
        bootstrap_servers=service_settings.kafka.bootstrap_servers, enable_idempotence=True
    )
    await producer.start()

    async def send(stage: Stage, event: CaseEvent) -> None:
        topic = event_topic(service_settings.site, stage, service_settings.topic_namespace)
        await producer.send_and_wait(
            topic,
            encode(event),
            key=str(event.case_id).encode(),
            headers=[
                (headers.EVENT_TYPE, event.event_type.encode()),
                (headers.EVENT_ID, str(event.event_id).encode()),
                (headers.CASE_ID, str(event.case_id).encode()),
            ],
        )

    try:
        yield send
    finally:
        await producer.stop()
