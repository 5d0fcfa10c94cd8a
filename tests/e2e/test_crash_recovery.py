"""Kill -9 services in the middle of a stream of cases: after restart every case still
reaches its right end, and no event is lost or applied twice (the books prove it)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from cityloop_deploy import topology
from cityloop_deploy.fleet import Fleet
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT

from .loop import Loop

CASES = 16


def test_killed_services_lose_nothing_and_apply_nothing_twice(loop: Loop, fleet: Fleet) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(loop.run_to_close, "supervisor") for _ in range(CASES)]
        for victim in ("dispatch", "verification", "casefile"):
            time.sleep(1.5)
            fleet[victim].kill()
            fleet[victim].start()
            fleet[victim].wait_ready()
        cases: list[UUID] = [future.result(timeout=240) for future in running]

    for case_id in cases:
        loop.await_status(case_id, "closed", within=60)
        assert loop.timeline(case_id) == SUPERVISOR_DISTRICT, case_id
    ours = {str(case_id) for case_id in cases}

    # Ids are unique in the journal and in tracking by the schema, so a step taken twice
    # shows as a second event of its type under a new id: each case's part of the flow in
    # each stage's books must be there exactly once.
    journaled: dict[str, str] = {}
    for declared in topology.declared():
        stage, emits = declared.stage.value, declared.emits_types
        rows = loop.sql(
            stage,
            "SELECT event_id::text, case_id::text, event_type, published_at FROM journal "
            "ORDER BY case_id, sequence",
        )
        assert all(published for *_, published in rows), f"{stage} left events unpublished"
        decided: dict[str, list[str]] = defaultdict(list)
        for event_id, case_id, event_type, _ in rows:
            if case_id in ours:
                decided[case_id].append(event_type)
                journaled[event_id] = event_type
        part = [event_type for event_type in SUPERVISOR_DISTRICT if event_type in emits]
        assert decided == dict.fromkeys(ours, part), f"{stage} decided a step twice or not at all"
    assert journaled

    for declared in topology.declared():
        stage = declared.stage.value
        applies = declared.follows_types | declared.emits_types
        expected = {event_id for event_id, event_type in journaled.items() if event_type in applies}

        def all_applied(
            stage: str = stage, expected: set[str] = expected
        ) -> list[tuple[Any, ...]] | None:
            query = "SELECT event_id::text, case_id::text, event_type FROM tracking"
            found = [row for row in loop.sql(stage, query) if row[1] in ours]
            return found if {event_id for event_id, *_ in found} >= expected else None

        applied = loop.until(f"{stage} applying every event it follows", all_applied, within=60)
        assert {event_id for event_id, *_ in applied} == expected, (
            f"{stage} applied what it does not follow"
        )
        counted: dict[str, Counter[str]] = defaultdict(Counter)
        for _, case_id, event_type in applied:
            counted[case_id][event_type] += 1
        once = Counter(event_type for event_type in SUPERVISOR_DISTRICT if event_type in applies)
        assert counted == dict.fromkeys(ours, once), f"{stage} applied a step twice or not at all"
        assert loop.sql(stage, "SELECT count(*) FROM parked") == [(0,)]


def test_deadlines_survive_a_crash_of_their_service(loop: Loop, fleet: Fleet) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.dispatch(case_id)
    before = loop.sql(
        "dispatch", "SELECT deadline FROM clocks WHERE case_id = %s AND step = 'disposal'", case_id
    )
    fleet["dispatch"].kill()
    fleet["dispatch"].start()
    fleet["dispatch"].wait_ready()
    after = loop.sql(
        "dispatch", "SELECT deadline FROM clocks WHERE case_id = %s AND step = 'disposal'", case_id
    )
    assert after == before
    # The restarted service's scan still fires the clock it kept.
    loop.disposal_time_passes(case_id)
    loop.await_event(case_id, "time_limit.overdue")
