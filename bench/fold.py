"""Folding benchmark: what it costs a service to apply one event to its store, without Kafka.

    uv run python bench/fold.py --cases 200 --batch 500

Applies the ten events of each of N closed cases to a fresh schema of casefile — the stage
that follows every event and keeps the timeline, so the dearest to fold into — on the local
stack's PostgreSQL, through the stage transaction in batches as the consumer does (one
transaction per batch: tracking, the case record, the timeline), and reports events per
second and milliseconds per event.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from uuid import uuid4

import progress
import psycopg
from psycopg import sql

from cityloop_casefile.app import SERVICE
from cityloop_deploy import localstack
from cityloop_shared.adapters import open_database
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract import CaseEvent, new_id
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.transaction import stage_transaction
from cityloop_shared.settings import DatabaseSettings


def closed_cases(count: int) -> list[CaseEvent]:
    events: list[CaseEvent] = []
    for number in range(1, count + 1):
        case_id, cause = new_id(), None
        for event_type in SUPERVISOR_DISTRICT:
            event = example_event(event_type, case_id, cause.link() if cause else None)
            update: dict[str, object] = {"causation_id": cause.event_id if cause else None}
            if event_type == "case.registered":
                payload = event.payload.model_copy(
                    update={"case_number": f"370212C0100220261125{number:05d}"}
                )
                update["payload"] = payload
            cause = event.model_copy(update=update)
            events.append(cause)
    return events


async def apply(
    database: DatabaseSettings, schema: str, events: list[CaseEvent], batch: int
) -> float:
    store = open_database(database, schema)
    reference = ReferenceData.demo()
    with progress.phase("folding events", total=len(events), unit="events") as folding:
        began = time.perf_counter()
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            async with stage_transaction(
                store, SERVICE, site="370212", topic="bench", reference=reference
            ) as transaction:
                await transaction.prepare(chunk)
                for event in chunk:
                    await transaction.receive(event, "bench")
            folding.advance(len(chunk))
        seconds = time.perf_counter() - began
    await store.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    stack = localstack.Stack.from_env()
    localstack.up(stack)
    schema = f"bench{uuid4().hex[:8]}"
    database = DatabaseSettings(url=stack.settings.database_url, schema_name=schema)
    upgrade(database, schema, SERVICE.migrations)
    try:
        events = closed_cases(args.cases)
        seconds = asyncio.run(apply(database, schema, events, args.batch))
    finally:
        with psycopg.connect(libpq_url(stack.settings.database_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    print(
        f"{len(events)} events in {seconds:.2f} s: {len(events) / seconds:.0f} events/s, "
        f"{1000 * seconds / len(events):.2f} ms per event (batch {args.batch})"
    )


if __name__ == "__main__":
    main()
