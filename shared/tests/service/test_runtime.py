"""The service kit on real Kafka and PostgreSQL: outbox relay, inbox, parking, dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from cityloop_deploy.site_fixtures import eventually, topic_records
from cityloop_shared.contract import CaseEvent, Stage, encode, event_topic, new_id
from cityloop_shared.contract.events.casefile import CaseAccepted, CaseAcceptedPayload
from cityloop_shared.contract.events.verification import CaseClosed, CaseClosedPayload
from cityloop_shared.contract.examples import ACTOR, example_event
from cityloop_shared.messaging import headers
from cityloop_shared.service.consumer import subscribe
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.tables import cases, inbox, journal, parked


async def scalar(runtime: ServiceRuntime, query: Any) -> Any:
    async with runtime.engine.connect() as conn:
        return await conn.scalar(query)


async def publish_raw(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_emitted_events_are_relayed_and_read_back_as_duplicates(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    reacted: list[str] = []

    async def react(_: Ledger, event: CaseEvent) -> None:
        reacted.append(event.event_type)

    subscribe(runtime, react)
    reported = example_event("case.reported")
    async with runtime.running():
        # Another stage reported the case: it arrives over Kafka and is applied.
        await publish_raw(
            kafka_bootstrap,
            event_topic(runtime.site, Stage.INTAKE, runtime.namespace),
            encode(reported.model_copy(update={"site": runtime.site})),
            str(reported.case_id).encode(),
        )
        await eventually(lambda: scalar(runtime, select(func.count()).select_from(cases)), bool)
        async with runtime.transaction() as ledger:
            accepted = await ledger.emit(
                CaseAccepted,
                case_id=reported.case_id,
                actor=ACTOR,
                payload=CaseAcceptedPayload(needs_verification=False),
            )
        await eventually(
            lambda: scalar(runtime, select(func.count()).where(journal.c.published_at.is_(None))),
            lambda pending: pending == 0,
        )
        await asyncio.sleep(1)  # the consumer reads its own event back meanwhile

    assert reacted == ["case.reported"]
    assert accepted.causation_id == reported.event_id
    assert accepted.correlation_id == reported.correlation_id
    records = await topic_records(kafka_bootstrap, runtime.topic, 1)
    assert records[0].key == str(reported.case_id).encode()
    assert dict(records[0].headers)[headers.EVENT_ID] == str(accepted.event_id).encode()
    assert await scalar(runtime, select(func.count()).select_from(inbox)) == 2
    status = await scalar(runtime, select(cases.c.status))
    assert status == "accepted"


async def test_an_event_ahead_of_its_cause_waits_for_it(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    async def react(_: Ledger, event: CaseEvent) -> None:
        return None

    subscribe(runtime, react)
    reported = example_event("case.reported").model_copy(update={"site": "370212"})
    accepted = example_event("case.accepted", reported.case_id, reported.link()).model_copy(
        update={"causation_id": reported.event_id}
    )
    key = str(reported.case_id).encode()
    async with runtime.running():
        await publish_raw(
            kafka_bootstrap,
            event_topic(runtime.site, Stage.CASEFILE, runtime.namespace),
            encode(accepted),
            key,
        )
        await eventually(lambda: scalar(runtime, select(func.count()).select_from(parked)), bool)
        await publish_raw(
            kafka_bootstrap,
            event_topic(runtime.site, Stage.INTAKE, runtime.namespace),
            encode(reported),
            key,
        )
        await eventually(
            lambda: scalar(runtime, select(cases.c.status)), lambda status: status == "accepted"
        )
    assert await scalar(runtime, select(func.count()).select_from(parked)) == 0


async def test_poison_and_impossible_events_go_to_the_dead_letter_topic(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    async def react(_: Ledger, event: CaseEvent) -> None:
        return None

    subscribe(runtime, react)
    intake = event_topic(runtime.site, Stage.INTAKE, runtime.namespace)
    closed_out_of_nowhere = example_event("case.closed")
    async with runtime.running():
        await publish_raw(kafka_bootstrap, intake, b"{not json", b"k")
        await publish_raw(
            kafka_bootstrap,
            intake,
            encode(closed_out_of_nowhere),
            str(closed_out_of_nowhere.case_id).encode(),
        )
        # The partition moves on: a good event after the poison is applied.
        reported = example_event("case.reported")
        await publish_raw(kafka_bootstrap, intake, encode(reported), b"k")
        await eventually(lambda: scalar(runtime, select(func.count()).select_from(cases)), bool)

    letters = await topic_records(kafka_bootstrap, runtime.dead_letter_topic, 2)
    reasons = sorted(dict(r.headers)[headers.DEAD_LETTER_REASON].decode() for r in letters)
    assert reasons[0].startswith("illegal transition: case.closed is not allowed")
    assert reasons[1].startswith("not JSON")
    assert {
        dict(r.headers)[headers.DEAD_LETTER_SOURCE].decode().split("/")[0] for r in letters
    } == {intake}
    assert {r.value for r in letters} == {b"{not json", encode(closed_out_of_nowhere)}
    assert new_id() != closed_out_of_nowhere.case_id


async def test_an_event_and_its_late_cause_in_one_batch(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    async def react(_: Ledger, event: CaseEvent) -> None:
        return None

    reported = example_event("case.reported").model_copy(update={"site": "370212"})
    accepted = example_event("case.accepted", reported.case_id, reported.link()).model_copy(
        update={"causation_id": reported.event_id}
    )
    key = str(reported.case_id).encode()
    # Both records are waiting before the service starts, so one batch holds them.
    await publish_raw(
        kafka_bootstrap,
        event_topic(runtime.site, Stage.CASEFILE, runtime.namespace),
        encode(accepted),
        key,
    )
    await publish_raw(
        kafka_bootstrap,
        event_topic(runtime.site, Stage.INTAKE, runtime.namespace),
        encode(reported),
        key,
    )
    subscribe(runtime, react)
    async with runtime.running():
        await eventually(
            lambda: scalar(runtime, select(cases.c.status)), lambda status: status == "accepted"
        )
    assert await scalar(runtime, select(func.count()).select_from(parked)) == 0
    assert await scalar(runtime, select(func.count()).select_from(inbox)) == 2


async def test_a_reaction_the_case_has_outgrown_is_skipped_not_retried_forever(
    runtime: ServiceRuntime, kafka_bootstrap: str
) -> None:
    async def close_at_once(ledger: Ledger, event: CaseEvent) -> None:
        await ledger.emit(
            CaseClosed, case_id=event.case_id, actor=ACTOR, payload=CaseClosedPayload()
        )

    subscribe(runtime, close_at_once)
    intake = event_topic(runtime.site, Stage.INTAKE, runtime.namespace)
    first, second = example_event("case.reported"), example_event("case.reported")
    async with runtime.running():
        for event in (first, second):
            await publish_raw(kafka_bootstrap, intake, encode(event), str(event.case_id).encode())
        await eventually(
            lambda: scalar(runtime, select(func.count()).select_from(cases)), lambda n: n == 2
        )
    assert await scalar(runtime, select(func.count()).select_from(journal)) == 0
    assert await scalar(runtime, select(func.count()).where(cases.c.status == "reported")) == 2
