"""The shared tables' revisions on real PostgreSQL, applied to a schema holding cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from cityloop_shared.contract import new_id
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.settings import ServiceSettings

KIT_MIGRATIONS = Path(__file__).parent / "kit_migrations"
MOMENT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_the_chain_head_revision_fills_case_rows_from_the_journal(
    service_settings: ServiceSettings,
) -> None:
    settings, schema = service_settings.database, service_settings.database.schema_name
    assert schema is not None
    upgrade(settings, schema, KIT_MIGRATIONS, revision="0001")
    chained, unchained = new_id(), new_id()
    engine = create_engine(settings.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            for case_id in (chained, unchained):
                conn.execute(
                    text(
                        "INSERT INTO cases (case_id, site, status, overdue, last_event_id, "
                        "correlation_id, reported_at, updated_at) "
                        "VALUES (:c, '370212', 'accepted', false, :e, :c, :m, :m)"
                    ),
                    {"c": case_id, "e": new_id(), "m": MOMENT},
                )
            for sequence in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO journal (event_id, case_id, sequence, event_type, "
                        "event_hash, topic, body, occurred_at) "
                        "VALUES (:e, :c, :s, 'case.accepted', :h, 't', '{}', :m)"
                    ),
                    {
                        "e": new_id(),
                        "c": chained,
                        "s": sequence,
                        "h": f"{sequence}" * 64,
                        "m": MOMENT,
                    },
                )

        upgrade(settings, schema, KIT_MIGRATIONS)

        with engine.begin() as conn:
            conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            heads = {
                case_id: (sequence, event_hash)
                for case_id, sequence, event_hash in conn.execute(
                    text("SELECT case_id, chain_sequence, chain_hash FROM cases")
                )
            }
    finally:
        engine.dispose()

    assert heads == {chained: (2, "2" * 64), unchained: (None, None)}
