"""The one subscriber of a service: every case topic of its site, folded through its ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from faststream.kafka import KafkaMessage

from cityloop_shared.contract.codec import UndecodableEvent, decode, encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.messaging.broker import subscriber_options
from cityloop_shared.service.runtime import DeadLetter, ServiceRuntime, retry_on_conflict
from cityloop_shared.store.ledger import Ledger, Outcome

log = get_logger("cityloop.consumer")

Reaction = Callable[[Ledger, CaseEvent], Awaitable[None]]
"""What a service does, in the same transaction, when an event has been applied."""

WORKFLOW_STAGES = (Stage.INTAKE, Stage.CASEFILE, Stage.DISPATCH, Stage.DISPOSAL, Stage.VERIFICATION)


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

    @runtime.broker.subscriber(*topics, **subscriber_options(group))  # type: ignore[untyped-decorator]
    async def on_case_event(message: KafkaMessage) -> None:
        record = message.raw_message
        source = f"{record.topic}/{record.partition}/{record.offset}"  # type: ignore[union-attr]
        key = record.key  # type: ignore[union-attr]
        try:
            event = decode(message.body)
        except UndecodableEvent as error:
            await runtime.send_dead_letter(DeadLetter(message.body, key, source, str(error)))
            return
        await retry_on_conflict(lambda: _apply(runtime, react, event, source, key))


async def _apply(
    runtime: ServiceRuntime, react: Reaction, event: CaseEvent, source: str, key: bytes | None
) -> None:
    dead_letters: list[DeadLetter] = []
    async with runtime.transaction(dead_letters) as ledger:
        received = await ledger.receive(event, source)
        for applied in received.applied:
            await react(ledger, applied)
        for dead, error in received.dead:
            dead_letters.append(
                DeadLetter(encode(dead), key, source, f"illegal transition: {error}")
            )
    if received.outcome is not Outcome.DUPLICATE:
        log.info("case_event." + received.outcome.value, source=source, **event_log_context(event))
