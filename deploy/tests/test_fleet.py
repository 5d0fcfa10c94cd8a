"""A fleet leaves nothing behind: its schemas and its namespace's topics go with it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import psycopg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityloop_deploy.fleet import Fleet, FleetConfig
from cityloop_shared.adapters.postgres import libpq_url


async def _topics(bootstrap: str, create: list[str] | None = None) -> set[str]:
    """The cluster's topics, once those in ``create`` are among them: a broker busy with
    other tests' topics may refuse a creation for a moment (its controller moving on)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(50):
            listed = set(await admin.list_topics())
            missing = [name for name in create or () if name not in listed]
            if not missing:
                return listed
            await admin.create_topics([NewTopic(name, 1, 1) for name in missing])
            await asyncio.sleep(0.1)
        raise AssertionError(f"topics {missing} were never created")
    finally:
        await admin.close()


def _schemas(postgres_url: str) -> set[str]:
    with psycopg.connect(libpq_url(postgres_url)) as conn:
        return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}


def test_clear_away_drops_the_fleets_schemas_and_topics_and_no_others(
    kafka_bootstrap: str, postgres_url: str, tmp_path: Path
) -> None:
    namespace = f"f{uuid4().hex[:10]}"
    neighbour = f"f{uuid4().hex[:10]}"
    config = FleetConfig(
        site="370212",
        kafka_bootstrap=kafka_bootstrap,
        database_url=postgres_url,
        log_dir=tmp_path,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
    )
    fleet = Fleet(config, stages=("intake", "casefile"))
    ours = [f"{namespace}.cityloop.370212.intake.v1", f"{namespace}.cityloop.370212.casefile.v1"]
    theirs = f"{neighbour}.cityloop.370212.intake.v1"
    asyncio.run(_topics(kafka_bootstrap, create=[*ours, theirs]))
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        for name in (f"{namespace}_intake", f"{namespace}_casefile", f"{neighbour}_intake"):
            conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        fleet.clear_away()

        remaining_topics = asyncio.run(_topics(kafka_bootstrap))
        remaining_schemas = _schemas(postgres_url)
        assert not set(ours) & remaining_topics
        assert theirs in remaining_topics
        assert not {f"{namespace}_intake", f"{namespace}_casefile"} & remaining_schemas
        assert f"{neighbour}_intake" in remaining_schemas
    finally:
        neighbours = replace(config, topic_namespace=neighbour, schema_prefix=f"{neighbour}_")
        Fleet(neighbours, stages=("intake",)).clear_away()
