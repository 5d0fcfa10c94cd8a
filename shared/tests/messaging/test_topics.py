"""A site's case topics are made to keep their events as long as the settings say: forever by
default (the log of record), never compacted."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.messaging.topics import ensure_site_topics
from cityloop_shared.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    """The topic's config, once the broker describes it (a topic made a moment ago may not
    be known to it yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            response: Any = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)]
            )
            (code, _, _, _, entries) = response[0].resources[0]
            if code == 0 and entries:
                return {name: value for name, value, *_ in entries}
            await asyncio.sleep(0.05)
        raise AssertionError(f"the broker never described {topic}")
    finally:
        await admin.close()


async def delete(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


@pytest.mark.parametrize(("retention_ms", "kept"), [(None, "-1"), (31_536_000_000, "31536000000")])
async def test_case_topics_keep_events_as_long_as_configured(
    kafka_bootstrap: str, retention_ms: int | None, kept: str
) -> None:
    namespace = f"r{uuid4().hex[:10]}"
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    if retention_ms is not None:
        settings = settings.model_copy(update={"retention_ms": retention_ms})
    made = await ensure_site_topics(settings, "370212", namespace)
    try:
        config = await topic_config(
            kafka_bootstrap, event_topic("370212", Stage.CASEFILE, namespace)
        )
        assert (config["retention.ms"], config["cleanup.policy"]) == (kept, "delete")
    finally:
        await delete(kafka_bootstrap, made)
