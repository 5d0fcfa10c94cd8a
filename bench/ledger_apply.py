"""Ledger benchmark: the cost of folding one event into a service's books, without Kafka.

    uv run python bench/ledger_apply.py --cases 200 --batch 500

Applies the ten events of each of N closed cases to a fresh schema on the local stack's
PostgreSQL through `Ledger.receive`, in batches as the consumer does (one transaction per
batch), and reports events per second and milliseconds per event. Every service pays this
for every event of its site, its own included.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql

from cityloop_deploy import localstack
from cityloop_deploy.pytest_plugin import libpq_url
from cityloop_shared.contract import CaseEvent, new_id
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings
from cityloop_shared.store.database import service_engine
from cityloop_shared.store.ledger import Ledger

KIT_MIGRATIONS = Path(__file__).parents[1] / "shared/tests/service/kit_migrations"


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
    engine = service_engine(database, schema)
    began = time.perf_counter()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        async with engine.begin() as conn:
            ledger = Ledger(conn, "bench", "370212")
            await ledger.prefetch(
                [event.event_id for event in chunk], {event.case_id for event in chunk}
            )
            for event in chunk:
                await ledger.receive(event, "bench")
            await ledger.flush()
    seconds = time.perf_counter() - began
    await engine.dispose()
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
    upgrade(database, schema, KIT_MIGRATIONS)
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
