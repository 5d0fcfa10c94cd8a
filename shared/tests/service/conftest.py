"""A service runtime on a fresh site: its own topics, its own schema, on the real servers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings

KIT_MIGRATIONS = Path(__file__).parent / "kit_migrations"


@pytest.fixture
def site() -> str:
    """A district code no other test uses, so the site's topics are this test's alone."""
    return f"9{random.randrange(10_000, 99_999):05d}"[:5] + str(random.randrange(1, 10))


@pytest_asyncio.fixture
async def site_topics(site: str, kafka_topic_factory: Callable[..., Awaitable[str]]) -> list[str]:
    names = []
    for stage in Stage:
        names.append(await kafka_topic_factory(event_topic(site, stage), partitions=3))
        names.append(await kafka_topic_factory(dead_letter_topic(site, stage)))
    return names


@pytest_asyncio.fixture
async def runtime(
    site: str, site_topics: list[str], kafka_bootstrap: str, postgres_url: str, pg_schema: str
) -> AsyncIterator[ServiceRuntime]:
    database = DatabaseSettings(url=postgres_url, schema_name=pg_schema)
    upgrade(database, pg_schema, KIT_MIGRATIONS)
    settings = ServiceSettings(
        site=site,
        database=database,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
    )
    yield ServiceRuntime(Stage.CASEFILE, settings)
