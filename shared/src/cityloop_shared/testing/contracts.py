"""What every adapter of the storage ports must do, as one abstract pytest suite.

Subclass :class:`StorageContract` in a test module named for the backend and give it a
``database`` fixture yielding a :class:`Database` whose schema has the shared tables and
:data:`samples` (see :func:`create_tables`); every test here then runs on that backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Connection, MetaData, String, Table, func, select
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.executor import Executor
from cityloop_shared.adapters.sql.tables import Moment, case_record_columns, tracking
from cityloop_shared.adapters.sql.tables import metadata as shared_metadata
from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.ids import new_id
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.ports.answers import Answer
from cityloop_shared.ports.clocks import Clock
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.ports.unit_of_work import Database, RecordConflict, Row, UnitOfWork
from cityloop_shared.stage.record import CaseRecord

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


class Shade(StrEnum):
    LIGHT = "light"
    DARK = "dark"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample(CaseRecord):
    """A stage record with a field of each kind a stage keeps."""

    label: str | None = None
    shade: Shade | None = None
    due_at: datetime | None = None
    done: bool = False


sample_metadata = MetaData()
samples = Table(
    "samples",
    sample_metadata,
    *case_record_columns(),
    Column("label", String(64)),
    Column("shade", String(16)),
    Column("due_at", Moment),
    Column("done", Boolean, nullable=False),
)


def create_tables(conn: Connection) -> None:
    """The shared tables and :data:`samples`, for a backend's ``database`` fixture."""
    shared_metadata.create_all(conn)
    sample_metadata.create_all(conn)


def sample(**fields: Any) -> Sample:
    event_id = new_id()
    return Sample(
        case_id=fields.pop("case_id", new_id()),
        site="370212",
        status=CaseStatus.REGISTERED,
        last_event_id=event_id,
        last_occurred_at=NOON,
        correlation_id=event_id,
        **fields,
    )


def chain(count: int) -> list[CaseEvent]:
    """The first ``count`` events of one case's chain."""
    events: list[CaseEvent] = []
    case_id = new_id()
    for event_type in ["case.reported", "case.accepted", "case.registered"][:count]:
        previous = events[-1].link() if events else None
        events.append(example_event(event_type, case_id, previous))
    return events


class StorageContract:
    """Every port, on the backend the subclass's ``database`` fixture gives."""

    # --- the unit of work ---------------------------------------------------------------------
    async def test_nothing_is_written_before_the_flush_and_all_of_it_after(
        self, database: Database
    ) -> None:
        events = chain(2)
        clock = _clock()
        answer = Answer("f" * 64, 201, {"case_id": "x"})
        async with database.begin() as uow:
            sent = _watch_writes(uow)
            uow.recorder.append(events, "topic")
            uow.tracker.track(events[0], OWN, NOON)
            uow.states(samples, Sample).save(sample(case_id=events[0].case_id))
            uow.clocks.start(clock)
            uow.answers.remember("op-1", "key-1", answer, NOON)
            uow.recorder.mark_published([], NOON)  # stamps nothing, and is a write all the same
            assert sent == []
            await uow.flush()
            assert len(sent) == 6  # the journal's two events go as one statement
        async with database.begin() as uow:
            assert [e.event_id for e in await uow.recorder.case_events(events[0].case_id)] == [
                e.event_id for e in events
            ]
            assert (await uow.tracker.lookup([events[0].event_id], [])).applied == {
                events[0].event_id
            }
            assert list(await uow.states(samples, Sample).load([events[0].case_id])) == [
                events[0].case_id
            ]
            assert await uow.clocks.clock(clock.case_id, clock.step) == clock
            assert await uow.answers.recall("op-1", "key-1") == answer

    async def test_a_reader_does_not_see_what_is_not_committed(self, database: Database) -> None:
        event = chain(1)[0]
        async with database.begin() as uow:
            uow.tracker.track(event, OWN, NOON)
            await uow.flush()
            async with database.reading() as reader:
                assert await reader.scalar(select(func.count()).select_from(tracking)) == 0
        async with database.reading() as reader:
            assert await reader.scalar(select(func.count()).select_from(tracking)) == 1

    async def test_a_failed_transaction_leaves_nothing(self, database: Database) -> None:
        events = chain(1)

        async def fail_after_writing() -> None:
            async with database.begin() as uow:
                uow.recorder.append(events, "topic")
                uow.tracker.track(events[0], OWN, NOON)
                await uow.flush()
                raise RuntimeError("the decision failed")

        with pytest.raises(RuntimeError):
            await fail_after_writing()
        async with database.begin() as uow:
            assert await uow.recorder.case_events(events[0].case_id) == []
            assert (await uow.tracker.lookup([events[0].event_id], [])).applied == set()

    async def test_a_read_sees_what_the_transaction_wrote(self, database: Database) -> None:
        events = chain(1)
        async with database.begin() as uow:
            uow.recorder.append(events, "topic")
            assert len(await uow.recorder.case_events(events[0].case_id)) == 1

    async def test_an_upsert_replaces_the_row_with_its_key(self, database: Database) -> None:
        record = sample(label="first")
        async with database.begin() as uow:
            uow.upsert(samples, ["case_id"], _row(record))
            uow.upsert(samples, ["case_id"], _row(replace(record, label="second")))
        async with database.begin() as uow:
            loaded = await uow.states(samples, Sample).load([record.case_id])
        assert loaded[record.case_id].label == "second"

    # --- the recorder -------------------------------------------------------------------------
    async def test_the_journal_keeps_each_case_chain_and_its_order(
        self, database: Database
    ) -> None:
        first, second = chain(2), chain(2)
        async with database.begin() as uow:
            uow.recorder.append([first[0], second[0]], "topic-a")
            uow.recorder.append([first[1], second[1]], "topic-a")
        async with database.begin() as uow:
            assert await uow.recorder.case_events(first[0].case_id) == first
            entries = await uow.recorder.entries()
        assert [entry.event_id for entry in entries] == [
            first[0].event_id,
            second[0].event_id,
            first[1].event_id,
            second[1].event_id,
        ]
        assert [entry.position for entry in entries] == sorted(e.position for e in entries)
        assert entries[0].topic == "topic-a"
        assert entries[0].occurred_at == first[0].occurred_at
        async with database.begin() as uow:
            assert [e.event_id for e in await uow.recorder.entries(entries[1].position, 1)] == [
                first[1].event_id
            ]

    async def test_two_writers_cannot_chain_the_same_place_of_a_case(
        self, database: Database
    ) -> None:
        events = chain(1)
        rival = replace_id(events[0])
        async with database.begin() as uow:
            uow.recorder.append(events, "topic")
        with pytest.raises(RecordConflict) as collision:
            async with database.begin() as uow:
                uow.recorder.append([rival], "topic")
        assert database.is_transient(collision.value)

    async def test_the_relay_sees_what_is_unpublished_in_order(self, database: Database) -> None:
        events = chain(3)
        async with database.begin() as uow:
            uow.recorder.append(events, "topic")
        async with database.begin() as uow:
            pending = await uow.recorder.unpublished(2)
            assert [e.event_id for e in pending] == [e.event_id for e in events[:2]]
            uow.recorder.mark_published([e.position for e in pending], NOON)
        async with database.begin() as uow:
            assert [e.event_id for e in await uow.recorder.unpublished(10)] == [events[2].event_id]
            published = await uow.recorder.entries()
        assert [entry.published_at for entry in published] == [NOON, NOON, None]

    # --- the tracker --------------------------------------------------------------------------
    async def test_applied_events_are_known_and_kept_in_order(self, database: Database) -> None:
        events = chain(3)
        async with database.begin() as uow:
            for event in reversed(events):
                uow.tracker.track(event, "topic/0/7", NOON)
        async with database.begin() as uow:
            known = await uow.tracker.lookup([events[0].event_id, new_id()], [])
            history = await uow.tracker.history()
        assert known.applied == {events[0].event_id}
        assert known.parked == []
        assert [entry.event_id for entry in history] == [e.event_id for e in reversed(events)]
        assert history[0].source == "topic/0/7"
        assert history[0].applied_at == NOON

    async def test_the_tracker_knows_the_cases_it_applied_events_of(
        self, database: Database
    ) -> None:
        event = chain(1)[0]
        async with database.begin() as uow:
            uow.tracker.track(event, OWN, NOON)
        async with database.begin() as uow:
            assert await uow.tracker.knows_case(event.case_id)
            assert not await uow.tracker.knows_case(new_id())

    async def test_an_event_is_applied_once(self, database: Database) -> None:
        event = chain(1)[0]
        async with database.begin() as uow:
            uow.tracker.track(event, OWN, NOON)
        with pytest.raises(RecordConflict):
            async with database.begin() as uow:
                uow.tracker.track(event, "topic/0/1", NOON)

    async def test_parked_events_wait_with_their_case(self, database: Database) -> None:
        first, later = chain(2)
        other = chain(1)[0]
        async with database.begin() as uow:
            uow.tracker.park(later, "topic/1/3", NOON)
            uow.tracker.park(other, "topic/2/4", NOON + timedelta(seconds=1))
        async with database.begin() as uow:
            known = await uow.tracker.lookup([first.event_id], [later.case_id])
            assert [p.event_id for p in known.parked] == [later.event_id]
            waiting = known.parked[0]
            assert (waiting.case_id, waiting.source, waiting.parked_at) == (
                later.case_id,
                "topic/1/3",
                NOON,
            )
            uow.tracker.unpark(later.event_id)
        async with database.begin() as uow:
            known = await uow.tracker.lookup([], [later.case_id, other.case_id])
        assert [p.event_id for p in known.parked] == [other.event_id]

    # --- case records -------------------------------------------------------------------------
    async def test_a_record_comes_back_as_it_was_saved(self, database: Database) -> None:
        record = sample(
            label="井盖",
            shade=Shade.DARK,
            due_at=NOON.astimezone(BEIJING),
            resume_to=CaseStatus.DISPATCHED,
            chain_sequence=3,
            chain_hash="a" * 64,
        )
        async with database.begin() as uow:
            uow.states(samples, Sample).save(record)
        async with database.begin() as uow:
            loaded = await uow.states(samples, Sample).load([record.case_id, new_id()])
        assert loaded == {record.case_id: record}
        found = loaded[record.case_id]
        assert isinstance(found.shade, Shade)
        assert isinstance(found.status, CaseStatus)
        assert found.due_at is not None
        assert found.due_at.utcoffset() == timedelta(0)

    async def test_a_record_changed_twice_is_written_once_as_it_ends(
        self, database: Database
    ) -> None:
        record = sample()
        async with database.begin() as uow:
            uow.states(samples, Sample).save(record)
        async with database.begin() as uow:
            states = uow.states(samples, Sample)
            loaded = (await states.load([record.case_id]))[record.case_id]
            states.save(replace(loaded, label="one"))
            states.save(replace(loaded, label="two", done=True, status=CaseStatus.CLOSED))
        async with database.begin() as uow:
            final = (await uow.states(samples, Sample).load([record.case_id]))[record.case_id]
        assert (final.label, final.done, final.status) == ("two", True, CaseStatus.CLOSED)

    async def test_a_record_and_its_table_must_agree(self, database: Database) -> None:
        @dataclass(frozen=True, slots=True, kw_only=True)
        class Stray(CaseRecord):
            colour: str | None = None

        async with database.begin() as uow:
            with pytest.raises(TypeError, match="colour"):
                uow.states(samples, Stray)

    # --- clocks -------------------------------------------------------------------------------
    async def test_a_clock_warns_then_goes_red_once_each(self, database: Database) -> None:
        clock = _clock()
        async with database.begin() as uow:
            uow.clocks.start(clock)
        async with database.begin() as uow:
            assert await uow.clocks.due(clock.warn_at - timedelta(seconds=1)) == []
            warned = await uow.clocks.due(clock.warn_at)
            assert [(s.overdue, s.due_at) for s in warned] == [(False, clock.warn_at)]
            uow.clocks.mark_signalled(warned[0])
        async with database.begin() as uow:
            assert await uow.clocks.due(clock.warn_at + timedelta(minutes=1)) == []
            red = await uow.clocks.due(clock.deadline)
            assert [(s.overdue, s.due_at, s.step) for s in red] == [
                (True, clock.deadline, ClockStep.DISPOSAL)
            ]
            uow.clocks.mark_signalled(red[0])
        async with database.begin() as uow:
            assert await uow.clocks.due(clock.deadline + timedelta(days=1)) == []

    async def test_stopped_and_suspended_clocks_do_not_run(self, database: Database) -> None:
        stopped, suspended = _clock(), _clock()
        async with database.begin() as uow:
            uow.clocks.start(stopped)
            uow.clocks.start(suspended)
            uow.clocks.stop(stopped.case_id, stopped.step, NOON)
            uow.clocks.stop(stopped.case_id, stopped.step, NOON + timedelta(hours=1))
            uow.clocks.suspend(suspended.case_id, suspended.step, NOON)
        async with database.begin() as uow:
            assert await uow.clocks.due(NOON + timedelta(days=9)) == []
            found = await uow.clocks.clock(stopped.case_id, stopped.step)
        assert found is not None
        assert found.stopped_at == NOON

    async def test_a_clock_resumes_and_moves_to_new_marks(self, database: Database) -> None:
        clock = _clock()
        later = clock.deadline + timedelta(days=2)
        async with database.begin() as uow:
            uow.clocks.start(clock)
            uow.clocks.suspend(clock.case_id, clock.step, NOON)
            uow.clocks.resume(clock.case_id, clock.step, later, later - timedelta(hours=1))
        async with database.begin() as uow:
            resumed = await uow.clocks.clock(clock.case_id, clock.step)
            assert resumed is not None
            assert (resumed.deadline, resumed.suspended_at) == (later, None)
            signal = (await uow.clocks.due(later))[0]
            uow.clocks.mark_signalled(signal)
            uow.clocks.move(clock.case_id, clock.step, later + timedelta(days=1), later)
        async with database.begin() as uow:
            moved = await uow.clocks.clock(clock.case_id, clock.step)
        assert moved is not None
        assert (moved.warned, moved.overdue, moved.warn_at) == (False, False, later)

    async def test_starting_a_clock_again_starts_it_afresh(self, database: Database) -> None:
        clock = _clock()
        async with database.begin() as uow:
            uow.clocks.start(clock)
            uow.clocks.stop(clock.case_id, clock.step, NOON)
            uow.clocks.start(replace(clock, started_at=NOON + timedelta(hours=2)))
        async with database.begin() as uow:
            again = await uow.clocks.clock(clock.case_id, clock.step)
        assert again is not None
        assert (again.started_at, again.stopped_at) == (NOON + timedelta(hours=2), None)

    # --- answers ------------------------------------------------------------------------------
    async def test_a_command_answer_is_recalled_by_actor_and_key(self, database: Database) -> None:
        answer = Answer("f" * 64, 201, {"case_id": "x", "numbers": [1, 2]})
        async with database.begin() as uow:
            uow.answers.remember("op-1", "key-1", answer, NOON)
        async with database.begin() as uow:
            assert await uow.answers.recall("op-1", "key-1") == answer
            assert await uow.answers.recall("op-2", "key-1") is None
            assert await uow.answers.recall("op-1", "key-2") is None


class _WriteWatcher(Executor):
    """Hands everything on to the adapter's executor, keeping the writes it was given."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self.sent: list[Executable] = []

    async def rows(self, statement: Executable, parameters: Row | None) -> Sequence[Row]:
        return await self._executor.rows(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Row | None) -> Any:
        return await self._executor.scalar(statement, parameters)

    async def execute(self, statement: Executable, rows: Sequence[Row] | None) -> None:
        self.sent.append(statement)
        await self._executor.execute(statement, rows)

    def grouping(self) -> AbstractAsyncContextManager[None]:
        return self._executor.grouping()


def _watch_writes(uow: UnitOfWork) -> list[Executable]:
    """The write statements the unit of work hands its database from now on."""
    assert isinstance(uow, SqlUnitOfWork), "the adapters share the SQL unit of work"
    watcher = _WriteWatcher(uow.executor)
    uow.executor = watcher
    return watcher.sent


def replace_id(event: CaseEvent) -> CaseEvent:
    """The same place in the same chain, claimed by another event."""
    return event.model_copy(update={"event_id": new_id()})


def _clock() -> Clock:
    return Clock(
        case_id=new_id(),
        step=ClockStep.DISPOSAL,
        started_at=NOON,
        deadline=NOON + timedelta(hours=4),
        warn_at=NOON + timedelta(hours=3),
        suspended_at=None,
        stopped_at=None,
        warned=False,
        overdue=False,
    )


def _row(record: Sample) -> dict[str, Any]:
    return {name: getattr(record, name) for name in samples.columns.keys()}  # noqa: SIM118
