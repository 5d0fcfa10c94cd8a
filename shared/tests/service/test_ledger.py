"""The ledger's writes on real PostgreSQL: gathered in a transaction, written at its end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from cityloop_shared.contract import new_id
from cityloop_shared.contract.envelope import CaseEvent, Payload, event_hash
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseRegistered,
)
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.examples import ACTOR, example_event
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger, Outcome
from cityloop_shared.store.tables import cases, idempotency_keys, inbox, journal, parked, timeline


async def rows(runtime: ServiceRuntime, query: Any) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def count(runtime: ServiceRuntime, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        counted = await conn.scalar(select(func.count()).select_from(table))
        assert counted is not None
        return counted


def idempotency_record(key: str) -> Any:
    return insert(idempotency_keys).values(
        actor_id=ACTOR.id,
        key=key,
        fingerprint="0" * 64,
        status_code=200,
        response={},
        created_at=datetime.now(UTC),
    )


def statements_of(ledger: Ledger) -> list[str]:
    """The SQL the ledger's connection sends from now on."""
    sent: list[str] = []
    connection = ledger.conn.sync_connection
    assert connection is not None
    event.listen(connection, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


async def test_events_decided_in_one_transaction_chain_and_land_together(
    runtime: ServiceRuntime,
) -> None:
    case_id = new_id()
    reported_payload = example_event("case.reported").payload
    async with runtime.transaction() as ledger:
        reported = await ledger.emit(
            CaseReported, case_id=case_id, actor=ACTOR, payload=reported_payload
        )
        accepted = await ledger.emit(
            CaseAccepted,
            case_id=case_id,
            actor=ACTOR,
            payload=CaseAcceptedPayload(needs_verification=False),
        )
        # Nothing reaches the tables before the flush at the end of the transaction.
        assert await ledger.conn.scalar(select(func.count()).select_from(journal)) == 0
        assert (await ledger.case(case_id)) is not None

    # The second event chains to the first although the first was not written yet.
    assert (accepted.sequence, accepted.previous_hash) == (2, event_hash(reported))
    chain = await rows(runtime, select(journal.c.sequence, journal.c.event_id).order_by("position"))
    assert chain == [(1, reported.event_id), (2, accepted.event_id)]
    case = await rows(runtime, select(cases.c.status, cases.c.last_event_id))
    assert case == [("accepted", accepted.event_id)]
    assert await count(runtime, timeline) == 2
    assert await count(runtime, inbox) == 2


async def test_a_batch_writes_each_case_once_with_its_last_state(runtime: ServiceRuntime) -> None:
    reported = [example_event("case.reported") for _ in range(3)]
    accepted = [
        CaseAccepted.create(
            case_id=event.case_id,
            site=event.site,
            actor=ACTOR,
            payload=CaseAcceptedPayload(needs_verification=False),
            previous=event.link(),
            cause=event,
        )
        for event in reported[:2]
    ]
    batch = [*reported, *accepted]
    async with runtime.transaction() as ledger:
        await ledger.prefetch([e.event_id for e in batch], {e.case_id for e in batch})
        for event in batch:
            await ledger.receive(event, "intake/0/0")

    statuses = dict(await rows(runtime, select(cases.c.case_id, cases.c.status)))
    assert statuses == {
        reported[0].case_id: "accepted",
        reported[1].case_id: "accepted",
        reported[2].case_id: "reported",
    }
    assert await count(runtime, timeline) == 5
    assert await count(runtime, inbox) == 5


async def test_a_write_refused_at_the_flush_undoes_the_whole_transaction(
    runtime: ServiceRuntime,
) -> None:
    async with runtime.transaction() as ledger:
        ledger.write_later(idempotency_record("first"))

    async def report_recording_the_same_key() -> None:
        async with runtime.transaction() as ledger:
            await ledger.emit(
                CaseReported,
                case_id=new_id(),
                actor=ACTOR,
                payload=example_event("case.reported").payload,
            )
            ledger.write_later(idempotency_record("first"))

    with pytest.raises(IntegrityError):
        await report_recording_the_same_key()

    assert await count(runtime, journal) == 0
    assert await count(runtime, cases) == 0
    assert await count(runtime, idempotency_keys) == 1


async def test_a_later_transaction_chains_to_the_head_kept_on_the_case_row(
    runtime: ServiceRuntime,
) -> None:
    async with runtime.transaction() as ledger:
        reported = await ledger.open_case(
            CaseReported, actor=ACTOR, payload=example_event("case.reported").payload
        )
    async with runtime.transaction() as ledger:
        accepted = await ledger.emit(
            CaseAccepted,
            case_id=reported.case_id,
            actor=ACTOR,
            payload=CaseAcceptedPayload(needs_verification=False),
        )

    assert (accepted.sequence, accepted.previous_hash) == (2, event_hash(reported))
    head = await rows(runtime, select(cases.c.chain_sequence, cases.c.chain_hash))
    journal_head = await rows(
        runtime, select(journal.c.sequence, journal.c.event_hash).order_by(journal.c.sequence)
    )
    assert head == [journal_head[-1]] == [(2, event_hash(accepted))]


async def test_a_case_seen_only_in_others_events_has_no_chain_head_yet(
    runtime: ServiceRuntime,
) -> None:
    reported = example_event("case.reported")
    async with runtime.transaction() as ledger:
        await ledger.receive(reported, "intake/0/0")
        accepted = await ledger.emit(
            CaseAccepted,
            case_id=reported.case_id,
            actor=ACTOR,
            payload=CaseAcceptedPayload(needs_verification=False),
        )

    # The service's own chain of the case starts with its own first event.
    assert (accepted.sequence, accepted.previous_hash) == (1, None)
    assert await rows(runtime, select(cases.c.chain_sequence)) == [(1,)]


async def test_opening_a_case_reads_nothing(runtime: ServiceRuntime) -> None:
    async with runtime.transaction() as ledger:
        sent = statements_of(ledger)
        await ledger.open_case(
            CaseReported, actor=ACTOR, payload=example_event("case.reported").payload
        )
        assert sent == []

    assert [statement.split()[0] for statement in sent] == ["INSERT"] * 4


def caused_by(cause: CaseEvent, model: type[CaseEvent], payload: Payload) -> CaseEvent:
    return model.create(
        case_id=cause.case_id,
        site=cause.site,
        actor=ACTOR,
        payload=payload,
        previous=cause.link(),
        cause=cause,
    )


async def test_an_event_ahead_of_its_cause_in_a_batch_waits_in_memory(
    runtime: ServiceRuntime,
) -> None:
    reported = example_event("case.reported")
    accepted = caused_by(reported, CaseAccepted, CaseAcceptedPayload(needs_verification=False))
    async with runtime.transaction() as ledger:
        sent = statements_of(ledger)
        await ledger.prefetch([accepted.event_id, reported.event_id], {reported.case_id})
        early = await ledger.receive(accepted, "casefile/0/0")
        on_time = await ledger.receive(reported, "intake/0/0")

    assert early.outcome is Outcome.PARKED
    assert on_time.applied == [reported, accepted]
    assert await rows(runtime, select(cases.c.status)) == [("accepted",)]
    assert not [statement for statement in sent if "parked" in statement.split()[:3]]


async def test_what_waits_for_a_cause_that_parks_itself_waits_in_the_table(
    runtime: ServiceRuntime,
) -> None:
    reported = example_event("case.reported")
    accepted = caused_by(reported, CaseAccepted, CaseAcceptedPayload(needs_verification=False))
    registered = caused_by(accepted, CaseRegistered, example_event("case.registered").payload)
    async with runtime.transaction() as ledger:
        batch = [registered, accepted]
        await ledger.prefetch([e.event_id for e in batch], {reported.case_id})
        for waiting in batch:
            assert (await ledger.receive(waiting, "casefile/0/0")).outcome is Outcome.PARKED
    assert await count(runtime, parked) == 2

    async with runtime.transaction() as ledger:
        await ledger.prefetch([reported.event_id], {reported.case_id})
        released = await ledger.receive(reported, "intake/0/0")

    assert released.applied == [reported, accepted, registered]
    assert await count(runtime, parked) == 0


async def test_a_batch_cut_short_parks_what_waits_in_memory(runtime: ServiceRuntime) -> None:
    reported = example_event("case.reported")
    accepted = caused_by(reported, CaseAccepted, CaseAcceptedPayload(needs_verification=False))
    async with runtime.transaction() as ledger:
        await ledger.prefetch([accepted.event_id, reported.event_id], {reported.case_id})
        await ledger.receive(accepted, "casefile/0/0")

    waiting = await rows(runtime, select(parked.c.event_id, parked.c.awaiting_event_id))
    assert waiting == [(accepted.event_id, reported.event_id)]


async def test_a_batch_asks_the_inbox_about_its_causes_once(runtime: ServiceRuntime) -> None:
    reported = example_event("case.reported")
    accepted = caused_by(reported, CaseAccepted, CaseAcceptedPayload(needs_verification=False))
    async with runtime.transaction() as ledger:
        await ledger.prefetch([accepted.event_id], {reported.case_id}, {reported.event_id})
        sent = statements_of(ledger)
        received = await ledger.receive(accepted, "casefile/0/0")

    assert received.outcome is Outcome.PARKED
    inbox_reads = [s for s in sent if s.startswith("SELECT") and "inbox" in s]
    assert inbox_reads == []
    assert await count(runtime, parked) == 1
