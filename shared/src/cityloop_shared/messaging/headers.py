"""Record headers: what a reader can route or log by without decoding the value."""

from __future__ import annotations

EVENT_TYPE = "cityloop-event-type"
"""A consumer drops the types its stage does not follow by this header, unread."""
EVENT_ID = "cityloop-event-id"
CASE_ID = "cityloop-case-id"
DEAD_LETTER_REASON = "cityloop-dead-letter-reason"
DEAD_LETTER_SOURCE = "cityloop-dead-letter-source"
"""``topic/partition/offset`` of the record set aside."""
