"""Kill -9 services in the middle of a stream of cases: after restart every case still
reaches its right end, and no event is lost or applied twice (the books prove it)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet

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

    for stage in WORKFLOW_STAGES:
        for case_id in cases:
            loop.await_status(stage, case_id, "closed", within=60)

    emitted: dict[str, set[str]] = {}
    for stage in WORKFLOW_STAGES:
        rows = loop.sql(stage, "SELECT event_id::text, published_at IS NOT NULL FROM journal")
        assert all(published for _, published in rows), f"{stage} left events unpublished"
        emitted[stage] = {event_id for event_id, _ in rows}
        assert len(emitted[stage]) == len(rows)
    every_event = set().union(*emitted.values())
    ours = {str(case_id) for case_id in cases}

    for stage in WORKFLOW_STAGES:
        applied = loop.sql(stage, "SELECT event_id::text, case_id::text FROM inbox")
        applied_ids = [event_id for event_id, case_id in applied if case_id in ours]
        assert len(applied_ids) == len(set(applied_ids)), f"{stage} applied an event twice"
        expected = {
            event_id
            for event_id, case_id in (
                row
                for other in WORKFLOW_STAGES
                for row in loop.sql(other, "SELECT event_id::text, case_id::text FROM journal")
            )
            if case_id in ours
        }
        assert set(applied_ids) == expected, (
            f"{stage} missed {len(expected - set(applied_ids))} events"
        )
        parked = loop.sql(stage, "SELECT count(*) FROM parked")
        assert parked == [(0,)]
    assert every_event


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
    loop.await_event("casefile", case_id, "time_limit.overdue")
