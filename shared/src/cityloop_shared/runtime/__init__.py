"""What runs a stage: its transactions, consumer, relay, clock scan, HTTP commands and app.

Every service has the same inner shape, so knowing one means knowing all:

- ``topology.py``: the event types the stage follows and emits;
- ``state.py``: its case record and ``evolve``, plain functions;
- ``decisions.py``: ``decide`` per command and ``react`` per followed event, plain functions;
- ``store.py`` and ``migrations/``: the tables of its records and work queue, its own schema;
- ``api.py``: its commands, each one line through :class:`~.commands.Commands`, and its work
  queue;
- ``app.py``: the :class:`~.definition.StageService` and ``create_app``;
- ``__main__.py``: migrate, then serve.
"""
