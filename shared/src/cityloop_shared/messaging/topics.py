"""Creating a site's topics: case topics keep every event forever (they are the log of record)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.embedded import is_embedded
from cityloop_shared.messaging.security import client_security
from cityloop_shared.settings import KafkaSettings

log = get_logger("cityloop.topics")

EVENT_TOPIC_CONFIG = {"retention.ms": "-1", "cleanup.policy": "delete"}
"""Unlimited retention and never compaction: an event topic is an audit log."""


def event_topic_config(settings: KafkaSettings) -> dict[str, str]:
    """The case topics' config: kept as long as ``retention_ms`` says, never compacted."""
    return {**EVENT_TOPIC_CONFIG, "retention.ms": str(settings.retention_ms)}


async def ensure_site_topics(
    settings: KafkaSettings,
    site: str,
    namespace: str | None = None,
    stages: Iterable[Stage] = tuple(Stage),
    partitions: int = 3,
) -> list[str]:
    """Create each stage's event and dead-letter topics of a site that do not exist yet."""
    wanted = {}
    for stage in stages:
        wanted[event_topic(site, stage, namespace)] = event_topic_config(settings)
        wanted[dead_letter_topic(site, stage, namespace)] = event_topic_config(settings)
    return await ensure_topics(settings, wanted, partitions)


async def ensure_topics(
    settings: KafkaSettings, wanted: dict[str, dict[str, str]], partitions: int = 3
) -> list[str]:
    """Create the topics of ``wanted`` (name → config) that do not exist yet.

    On a cluster with ACLs the operator creates the topics and a service may create none: a
    topic it is refused is left to them (it is either there already, unseen because the
    service may not describe it, or its reader waits for it). An embedded log has every
    topic already."""
    if is_embedded(settings.bootstrap_servers):
        return sorted(wanted)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **client_security(settings)
    )
    await admin.start()
    try:
        # Only the topics the principal may describe: on a cluster with ACLs, not all there are.
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1, topic_configs=config)
            for name, config in wanted.items()
            if name not in existing
        ]
        refused = []
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                if code == TopicAuthorizationFailedError.errno:
                    refused.append(name)
                # Another service of the site may have created it a moment before.
                elif code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"creating topic {name} failed with Kafka error {code}")
        if refused:
            log.info("topics.left_to_the_operator", topics=sorted(refused))
        return sorted(wanted)
    finally:
        await admin.close()
