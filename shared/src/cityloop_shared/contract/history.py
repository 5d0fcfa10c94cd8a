"""A case's history read from several streams (each stage's topic, each site's): one order.

Streams are ordered each on its own; across them, events are ordered by when they happened,
a cause before what it caused when both happened at one moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from .envelope import CaseEvent


def ordered(events: Iterable[CaseEvent]) -> list[CaseEvent]:
    """A case's events in the order they happened; of one moment, each after its cause."""
    by_id = {event.event_id: event for event in events}
    depth: dict[UUID, int] = {}

    def depth_of(event: CaseEvent) -> int:
        found = depth.get(event.event_id)
        if found is None:
            cause = by_id.get(event.causation_id) if event.causation_id else None
            same_moment = cause is not None and cause.occurred_at == event.occurred_at
            found = depth_of(cause) + 1 if same_moment and cause is not None else 0
            depth[event.event_id] = found
        return found

    return sorted(by_id.values(), key=lambda e: (e.occurred_at, depth_of(e), str(e.event_id)))
