"""What every CityLoop service is made of: runtime, consumer, HTTP commands and queries.

Every service has the same inner shape, so knowing one means knowing all:

- ``settings.py``: the service's settings object;
- ``tables.py`` and ``migrations/``: its own tables, in its own schema;
- ``reactions.py``: what it does when an event arrives from a topic;
- ``commands.py``: the HTTP commands of its stage, each deciding events through a ledger;
- ``app.py``: :func:`cityloop_shared.service.app.service_app` wiring the above together;
- ``__main__.py``: migrate, then serve.
"""
