"""Record headers: what a reader can route or log by without decoding the value."""

from __future__ import annotations

from cityloop_shared.contract.envelope import CaseEvent

EVENT_TYPE = "cityloop-event-type"
EVENT_ID = "cityloop-event-id"
CASE_ID = "cityloop-case-id"
CORRELATION_ID = "cityloop-correlation-id"
SCHEMA_VERSION = "cityloop-schema-version"
DEAD_LETTER_REASON = "cityloop-dead-letter-reason"
DEAD_LETTER_SOURCE = "cityloop-dead-letter-source"
"""``topic/partition/offset`` of the record set aside."""


def event_headers(event: CaseEvent) -> dict[str, str]:
    return {
        EVENT_TYPE: event.event_type,
        EVENT_ID: str(event.event_id),
        CASE_ID: str(event.case_id),
        CORRELATION_ID: str(event.correlation_id),
        SCHEMA_VERSION: str(event.schema_version),
    }
