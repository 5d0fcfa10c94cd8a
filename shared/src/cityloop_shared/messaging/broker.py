"""The Kafka broker every CityLoop process builds, and how case events are read and written.

Two policies here carry the reliability model (architecture §5):

- the producer is idempotent with ``acks=all``: a retried send never duplicates a record
  and an acknowledged record is on every in-sync replica;
- subscribers commit an offset only after their handler returned; a handler that raises
  rewinds the partition to the failed record (``AckPolicy.NACK_ON_ERROR``), so nothing is
  lost. FastStream's own default commits before the handler runs and is never used here.
"""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.security import broker_security
from cityloop_shared.settings import KafkaSettings

CASE_EVENT_ACK_POLICY = AckPolicy.NACK_ON_ERROR
BATCH_RECORDS = 500
BATCH_POLL_MS = 50


def build_broker(settings: KafkaSettings, **options: Any) -> KafkaBroker:
    """A broker with the project's producer and acknowledgement policies."""
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=settings.client_id,
        request_timeout_ms=settings.request_timeout_ms,
        security=broker_security(settings),
        enable_idempotence=True,
        acks="all",
        ack_policy=CASE_EVENT_ACK_POLICY,
        allow_auto_create_topics=False,
        logger=get_logger("cityloop.kafka"),
        **options,
    )


def subscriber_options(group_id: str) -> dict[str, Any]:
    """Options for a case-event subscriber in consumer group ``group_id``.

    A new group reads its topics from the beginning: case topics are the log of record.
    """
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": CASE_EVENT_ACK_POLICY,
    }


def batch_options(settings: KafkaSettings) -> dict[str, Any]:
    """Options for a subscriber that takes records in batches, one transaction each.

    The broker holds a fetch until ``batch_min_bytes`` have arrived or ``batch_wait_ms``
    have passed: under load batches fill at once, and a quiet site's events wait a moment
    for company rather than costing a transaction each.
    """
    return {
        "batch": True,
        "max_records": BATCH_RECORDS,
        "batch_timeout_ms": BATCH_POLL_MS,
        "fetch_min_bytes": settings.batch_min_bytes,
        "fetch_max_wait_ms": settings.batch_wait_ms,
    }
