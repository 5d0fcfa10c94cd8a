"""Fixtures for testing services: a fresh site with its own topics and its own schema.

Loaded by the harness plugin, so every test package can ask for a ``site`` whose case
topics no other test uses, settings for a service of that site, and tokens for its people.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from cityloop_deploy.probe import described_partitions
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent, ChainLink, Payload
from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.messaging import headers
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import DatabaseSettings, KafkaSettings, RunMode, ServiceSettings
from cityloop_shared.testing.identity import bearer

T = TypeVar("T")
E = TypeVar("E", bound=CaseEvent)


@pytest.fixture
def site() -> str:
    """崂山区 of the demo city; tests override it for another district or the city."""
    return "370212"


@pytest.fixture
def topic_namespace() -> str:
    """A topic prefix no other test uses, so the site's topics are this test's alone."""
    return f"t{uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def site_topics(
    site: str, topic_namespace: str, kafka_topic_factory: Callable[..., Awaitable[str]]
) -> list[str]:
    """Every stage's event and dead-letter topics of the test's site."""
    names = []
    for stage in Stage:
        topic = event_topic(site, stage, topic_namespace)
        names.append(await kafka_topic_factory(topic, partitions=3))
        names.append(await kafka_topic_factory(dead_letter_topic(site, stage, topic_namespace)))
    return names


@pytest.fixture
def service_settings(
    site: str,
    topic_namespace: str,
    site_topics: list[str],
    kafka_bootstrap: str,
    postgres_url: str,
    pg_schema: str,
) -> ServiceSettings:
    """Settings of a service process of the test's site, in the test's fresh schema."""
    return ServiceSettings(
        site=site,
        topic_namespace=topic_namespace,
        database=DatabaseSettings(url=postgres_url, schema_name=pg_schema),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        mode=RunMode.DEVELOPMENT,
        clock_scan_seconds=0.2,
    )


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    """``auth(role, site="370212", id=…, department_id=…)``: headers naming that actor, with a
    token of the site's built-in development key. A service of the test's site accepts its own
    site's people and, at a district, its city's; another district's token is refused (401).
    Supervisors and departments must be the demo reference data's (``sv-370212-03``,
    ``370212-sanitation``)."""

    def headers(
        role: Role, site: str = "370212", id: str | None = None, department_id: str | None = None
    ) -> dict[str, str]:
        default = f"sv-{site}-01" if role is Role.FIELD_SUPERVISOR else f"{role.value}-1"
        actor = Actor(id=id or default, role=role, site=site, department_id=department_id)
        return bearer(actor)

    return headers


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 20.0
) -> T:
    """Poll ``probe`` until ``ok`` holds of its value; fail naming the last value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if ok(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never reached within {within}s: last value {value!r}")
        await asyncio.sleep(0.05)


async def topic_records(
    bootstrap: str, topic: str, at_least: int, within: float = 20.0
) -> list[Any]:
    """Every record of ``topic`` once there are at least ``at_least``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(records) < at_least:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def read_to_the_end(runtime: ServiceRuntime) -> None:
    """Until the service's consumer has committed every record now on the topics it reads.
    Whatever it did not apply by then, it dropped: the way to show that an event it does not
    follow changed nothing, without sleeping."""
    bootstrap = runtime.settings.kafka.bootstrap_servers
    topics = runtime.service.rules.topology.topics(runtime.site, runtime.namespace)
    group = runtime.topic.removesuffix(".v1")  # the group its consumer subscribes in
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        # The partitions as the broker describes them: a fresh consumer's own metadata need
        # not know the test's topics yet, and no partition would mean nothing to wait for.
        partitions = await described_partitions(admin, topics)
        assert partitions, f"no partitions known for {topics}"
        ends = await consumer.end_offsets(partitions)

        async def behind() -> dict[TopicPartition, tuple[int, int]]:
            """The partitions the group has not committed to their end: (committed, end)."""
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {p: offsets[p].offset if p in offsets else 0 for p in partitions}
            return {p: (committed[p], end) for p, end in ends.items() if end > committed[p]}

        await eventually(behind, lambda lagging: not lagging)
    finally:
        await consumer.stop()
        await admin.close()


class UpstreamStage:
    """Publishes events as another stage of the site would: chained per case on that stage's
    topic, each caused by the event given as its cause, with the headers its relay sets."""

    def __init__(self, settings: ServiceSettings, stage: Stage, producer: AIOKafkaProducer) -> None:
        self.site = settings.site
        self.topic = event_topic(settings.site, stage, settings.topic_namespace)
        self._producer = producer
        self._links: dict[UUID, ChainLink] = {}

    async def publish(self, event: CaseEvent) -> None:
        """Publish an event made elsewhere as this stage's relay would."""
        await self._producer.send_and_wait(
            self.topic,
            encode(event),
            key=str(event.case_id).encode(),
            headers=[
                (headers.EVENT_TYPE, event.event_type.encode()),
                (headers.EVENT_ID, str(event.event_id).encode()),
                (headers.CASE_ID, str(event.case_id).encode()),
            ],
        )

    async def emit(
        self,
        model: type[E],
        *,
        case_id: UUID,
        payload: Payload,
        actor: Actor,
        cause: CaseEvent | None = None,
    ) -> E:
        event = model.create(
            case_id=case_id,
            site=self.site,
            actor=actor,
            payload=payload,
            previous=self._links.get(case_id),
            cause=cause,
        )
        self._links[case_id] = event.link()
        await self.publish(event)
        return event


@pytest_asyncio.fixture
async def upstream(
    service_settings: ServiceSettings,
) -> AsyncIterator[Callable[[Stage], UpstreamStage]]:
    """``upstream(Stage.INTAKE).emit(CaseReported, …)``: events from the site's other stages."""
    producer = AIOKafkaProducer(
        bootstrap_servers=service_settings.kafka.bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    stages: dict[Stage, UpstreamStage] = {}

    def stage(which: Stage) -> UpstreamStage:
        return stages.setdefault(which, UpstreamStage(service_settings, which, producer))

    try:
        yield stage
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def serve_in_process(
    package: ModuleType, settings: ServiceSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """A service (``cityloop_<stage>``) migrated and running in the test's own process:
    its consumer, relay and clocks run; HTTP goes straight to the app."""
    assert settings.database.schema_name
    upgrade(
        settings.database, settings.database.schema_name, Path(package.__path__[0]) / "migrations"
    )
    create_app: Callable[[ServiceSettings], FastAPI] = importlib.import_module(
        f"{package.__name__}.app"
    ).create_app
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base_url = f"http://{package.__name__.removeprefix('cityloop_')}"
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client, app.state.runtime
