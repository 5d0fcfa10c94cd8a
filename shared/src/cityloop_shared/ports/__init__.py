"""The storage a stage runs on, as abstract ports; :mod:`cityloop_shared.adapters` holds one
adapter per backend (PostgreSQL, SQLite), and :mod:`cityloop_shared.testing` one contract
test suite that every adapter passes.

- :class:`~.recorder.Recorder`: the journal (outbox), each case's events chained;
- :class:`~.tracker.Tracker`: what the stage applied, in order (inbox), and what waits;
- :class:`~.states.CaseStates`: the stage's case records, typed columns of its own table;
- :class:`~.clocks.ClockStore`: time-limit clocks and their scan;
- :class:`~.answers.AnswerBook`: the first answer to each idempotent command;
- :class:`~.unit_of_work.UnitOfWork`: all of the above in one transaction, written at its end.
"""
