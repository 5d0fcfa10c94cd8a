"""The one subscriber of a service: every case topic of its site, folded through its ledger.

Records arrive in batches; a batch is applied in one database transaction and its offsets
are committed after that transaction, so a crash replays the whole batch and the inbox
turns what was already applied into no-ops. One commit per batch instead of per event is
what lets a service keep up with a busy site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog
from faststream.kafka import KafkaMessage

from cityloop_shared.contract.codec import UndecodableEvent, decode, encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.messaging.broker import batch_options, subscriber_options
from cityloop_shared.service.runtime import DeadLetter, ServiceRuntime, retry_transient
from cityloop_shared.store.ledger import Ledger, Outcome

log = get_logger("cityloop.consumer")

Reaction = Callable[[Ledger, CaseEvent], Awaitable[None]]
"""What a service does, in the same transaction, when an event has been applied."""

WORKFLOW_STAGES = (Stage.INTAKE, Stage.CASEFILE, Stage.DISPATCH, Stage.DISPOSAL, Stage.VERIFICATION)


@dataclass(frozen=True, slots=True)
class Delivery:
    event: CaseEvent
    source: str
    """``topic/partition/offset``: where the record was read, for the inbox and dead letters."""
    key: bytes | None


def case_topics(
    site: str, namespace: str | None = None, stages: Iterable[Stage] = WORKFLOW_STAGES
) -> list[str]:
    return [event_topic(site, stage, namespace) for stage in stages]


def subscribe(runtime: ServiceRuntime, react: Reaction) -> None:
    """Consume the site's case topics in the service's own consumer group.

    Each service folds every workflow topic, its own included, so its projection is the
    whole case; its own events come back as duplicates and change nothing.
    """
    topics = case_topics(runtime.site, runtime.namespace)
    group = runtime.topic.removesuffix(".v1")

    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        *topics,
        **batch_options(runtime.settings.kafka),
        **subscriber_options(group),
    )
    async def on_case_events(message: KafkaMessage) -> None:
        deliveries: list[Delivery] = []
        dead_letters: list[DeadLetter] = []
        for record in message.raw_message:
            source = f"{record.topic}/{record.partition}/{record.offset}"
            try:
                deliveries.append(Delivery(decode(record.value), source, record.key))
            except UndecodableEvent as error:
                dead_letters.append(DeadLetter(record.value, record.key, source, str(error)))
        await retry_transient(lambda: _apply(runtime, react, deliveries, list(dead_letters)))


async def _apply(
    runtime: ServiceRuntime,
    react: Reaction,
    deliveries: list[Delivery],
    dead_letters: list[DeadLetter],
) -> None:
    async with runtime.transaction(dead_letters) as ledger:
        await ledger.prefetch(
            [delivery.event.event_id for delivery in deliveries],
            {delivery.event.case_id for delivery in deliveries},
            {d.event.causation_id for d in deliveries if d.event.causation_id is not None},
        )
        for delivery in deliveries:
            with structlog.contextvars.bound_contextvars(**event_log_context(delivery.event)):
                received = await ledger.receive(delivery.event, delivery.source)
                for applied in received.applied:
                    try:
                        await react(ledger, applied)
                    except IllegalTransition as moved_on:
                        # The case moved on (a parked event was released after it): the
                        # reaction no longer applies, and nothing of it was written.
                        log.warning("reaction.skipped", reason=str(moved_on))
                for dead, error in received.dead:
                    reason = f"illegal transition: {error}"
                    dead_letters.append(
                        DeadLetter(encode(dead), delivery.key, delivery.source, reason)
                    )
                if received.outcome is not Outcome.DUPLICATE:
                    log.debug("case_event." + received.outcome.value, source=delivery.source)
