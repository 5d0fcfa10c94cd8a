"""Kill -9 services in the middle of a stream of cases: after restart every case still
reaches its right end, and no event is lost or applied twice (the books prove it)."""

from __future__ import annotations

import importlib
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet
from cityloop_shared.contract.topology import Topology

from .loop import Loop

CASES = 16


def topology(stage: str) -> Topology:
    declared: Topology = importlib.import_module(f"cityloop_{stage}.topology").TOPOLOGY
    return declared


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
    ours = {str(case_id) for case_id in cases}

    journaled: dict[str, str] = {}
    for stage in WORKFLOW_STAGES:
        rows = loop.sql(
            stage, "SELECT event_id::text, case_id::text, event_type, published_at FROM journal"
        )
        assert all(published for *_, published in rows), f"{stage} left events unpublished"
        assert len({event_id for event_id, *_ in rows}) == len(rows)
        journaled |= {
            event_id: event_type for event_id, case_id, event_type, _ in rows if case_id in ours
        }
    assert journaled

    for stage in WORKFLOW_STAGES:
        declared = topology(stage)
        applies = declared.follows_types | declared.emits_types

        def tracked(stage: str = stage) -> list[str]:
            rows = loop.sql(stage, "SELECT event_id::text, case_id::text FROM tracking")
            return [event_id for event_id, case_id in rows if case_id in ours]

        expected = {event_id for event_id, event_type in journaled.items() if event_type in applies}
        applied = loop.until(
            f"{stage} applying every event it follows",
            lambda tracked=tracked, expected=expected: (
                found if set(found := tracked()) >= expected else None
            ),
            within=60,
        )
        assert len(applied) == len(set(applied)), f"{stage} applied an event twice"
        assert set(applied) == expected, f"{stage} applied what it does not follow"
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
