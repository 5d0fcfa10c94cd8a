"""The one subscriber of a service: the topics of the stages whose events it follows.

A record whose type header names a type the stage does not follow is dropped before it is
decoded. A followed type read from a topic its emitter does not own, an unknown type, or a
record that is not a valid event goes to the service's dead-letter topic with the reason.
Records arrive in batches; a batch is applied in one database transaction and its offsets
are committed after that transaction, so a crash replays the whole batch and the inbox
turns what was already applied into no-ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from cityloop_shared.contract.codec import UndecodableEvent, decode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.contract.topology import Topology
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.messaging import headers
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.transaction import Outcome

log = get_logger("cityloop.consumer")

_TYPE_HEADER = headers.EVENT_TYPE
_TOLD = frozenset({Outcome.PARKED, Outcome.LATE, Outcome.DECLINED})
"""Outcomes logged with the event's ids; dead letters are logged where they are sent."""


@dataclass(frozen=True, slots=True)
class Delivery:
    event: CaseEvent
    source: str
    """``topic/partition/offset``: where the record was read, for the inbox and dead letters."""


@dataclass(frozen=True, slots=True)
class Refusal:
    body: bytes
    key: bytes | None
    source: str
    reason: str


class Sorter:
    """Tells, record by record, what a stage does with what it reads."""

    def __init__(
        self,
        topology: Topology,
        site: str,
        namespace: str | None,
        districts: Sequence[str] = (),
    ) -> None:
        self.follows = topology.follows_types
        self.sources = topology.sources(site, namespace, districts)
        self.stage_of_topic = {event_topic(site, stage, namespace): stage for stage in Stage}
        self.stage_of_topic |= {topic: source.stage for topic, source in self.sources.items()}

    def sort(
        self, records: Sequence[Any], deliveries: list[Delivery], refusals: list[Refusal]
    ) -> None:
        for record in records:
            source = f"{record.topic}/{record.partition}/{record.offset}"
            event_type = _type_header(record)
            read = self.sources.get(record.topic)
            # A topic the stage does not read for what it follows is judged by all it follows,
            # so what arrives where it should not goes to the dead letters.
            takes = read.takes if read is not None else self.follows
            if event_type is not None and event_type in EVENT_TYPES and event_type not in takes:
                continue
            try:
                event = decode(record.value)
            except UndecodableEvent as error:
                refusals.append(Refusal(record.value, record.key, source, str(error)))
                continue
            if event.event_type not in takes:
                continue
            stage = self.stage_of_topic.get(record.topic)
            if stage not in type(event).emitted_by:
                emitters = ", ".join(sorted(s.value for s in type(event).emitted_by))
                reason = (
                    f"{event.event_type} may not arrive on {record.topic}: "
                    f"only the topics of {emitters} carry it"
                )
                refusals.append(Refusal(record.value, record.key, source, reason))
                continue
            deliveries.append(Delivery(event, source))


def _type_header(record: Any) -> str | None:
    for name, value in record.headers or ():
        if name == _TYPE_HEADER:
            return bytes(value).decode(errors="replace")
    return None


def subscribe(runtime: ServiceRuntime) -> None:
    """Consume, in the service's own consumer group, the topics of what it follows."""
    districts = runtime.settings.district_sites
    sorter = Sorter(runtime.service.rules.topology, runtime.site, runtime.namespace, districts)
    topics = list(sorter.sources)
    if not topics:
        return

    async def on_case_events(records: Sequence[Any]) -> None:
        deliveries: list[Delivery] = []
        refusals: list[Refusal] = []
        sorter.sort(records, deliveries, refusals)
        with structlog.contextvars.bound_contextvars(records=len(records)):
            for refusal in refusals:
                await runtime.send_dead_letter(
                    refusal.body, refusal.key, refusal.source, refusal.reason
                )
            if deliveries:
                await runtime.retrying(lambda: _apply(runtime, deliveries))

    runtime.follow(topics, runtime.topic.removesuffix(".v1"), on_case_events)


async def _apply(runtime: ServiceRuntime, deliveries: list[Delivery]) -> None:
    async with runtime.transaction() as transaction:
        await transaction.prepare([delivery.event for delivery in deliveries])
        for delivery in deliveries:
            outcome = await transaction.receive(delivery.event, delivery.source)
            if outcome in _TOLD:
                log.info(
                    "case_event." + outcome.value,
                    source=delivery.source,
                    **event_log_context(delivery.event),
                )
