"""A stage's history replayed into a fresh store: what it applied applies again, its reactions
are derived again, and a history the replay cannot follow is reported step by step."""

from __future__ import annotations

from pathlib import Path

from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.runtime.replay import Replay, Step, history, replay

from .conftest import REFERENCE, SITE, NewCase, migrated
from .stage import SERVICE, TOPOLOGY
from .test_transaction import receive_all, to_feedback


async def replay_into(database: Database, steps: list[Step]) -> Replay:
    return await replay(SERVICE, steps, database, site=SITE, topic="topic", reference=REFERENCE)


async def test_a_history_replays_as_it_ran(
    database: Database, new_case: NewCase, tmp_path: Path
) -> None:
    case = to_feedback(new_case)
    await receive_all(database, case, *TOPOLOGY.follows_types)
    steps = await history(database, {event.event_id: event for event in case.events})
    fresh = await migrated(f"sqlite:///{tmp_path / 'replayed.sqlite'}", "main")
    try:
        result = await replay_into(fresh, steps)
    finally:
        await fresh.dispose()
    assert result.differences == []
    assert (result.steps, result.rederived) == (6, 1)  # five events read, the check derived


async def test_a_history_the_replay_cannot_follow_is_reported(
    database: Database, new_case: NewCase
) -> None:
    """A history that says the stage applied the department's acceptance before the case was
    dispatched, and a second registration: replayed, the first waits for its case and the
    second is dead, and both are named."""
    case = to_feedback(new_case)
    registered, accepted = case.events[2], case.events[4]
    again = case.next("case.registered", "casefile")
    steps = [Step(registered, "t/0/1"), Step(accepted, "t/0/2"), Step(again, "t/0/3")]
    result = await replay_into(database, steps)
    assert result.differences == [
        f"{accepted.event_id} was parked in the replay",
        f"{again.event_id} is a dead letter in the replay: illegal transition: "
        "case.registered is not allowed for a case in status 'registered'",
    ]
    assert result.steps == 3
