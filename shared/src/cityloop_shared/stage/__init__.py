"""The pure inside of a stage: its case records, decisions and clock changes, no I/O.

Every service declares its stage with these: ``topology.py`` (what it follows and emits),
``state.py`` (its case record and ``evolve``), ``decisions.py`` (``decide`` per command and
``react`` per followed event). They are plain functions of their arguments, tested without
a database or a broker; :mod:`cityloop_shared.runtime` runs them in transactions.
"""
