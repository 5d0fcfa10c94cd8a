"""`cityloop-audit`: an operator's proofs over a site's event log, read from Kafka.

    cityloop-audit verify --site 370212 [--database URL]
    cityloop-audit timeline --site 370212 --case CASE_ID [--format table|json|csv]
    cityloop-audit replay --site 370212 --database URL [--stage dispatch]
        [--case CASE_ID | --district 370212 | --since 2026-03-01T00:00+08:00 --until …]
    cityloop-audit archive --site 370212 --out archive/370212

Each reads the site's log from Kafka, or with ``--archive DIR`` from the Parquet files that
``archive`` writes (one a day; see :mod:`cityloop_deploy.archive`).

``verify`` reads every case topic of the site from its first record to its last and checks
every case's chain on every stream: an altered, removed or reordered event breaks a link,
and the first broken link is named by case, event id, topic, partition and offset. With
``--database`` it also compares each workflow service's journal (what the service decided,
with each event's hash) with the log, which proves even the last event of a case. Exits 1
when anything does not hold.

``timeline`` shows one case's whole history at the site: who, in which role, did what, when
and why, with event ids and where each event is logged.

``replay`` replays each workflow service's history (its order of what it applied; what it
read comes from the log) into a fresh SQLite store and compares journal, tracking and
records with the live store, naming every difference; ``--case``, ``--district`` and
``--since``/``--until`` narrow it to the cases they select, each replayed whole. Exits 1 on
any difference.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from psycopg import sql
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cityloop_deploy import replaying
from cityloop_deploy.archive import read_archive, write_archive
from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_deploy.probe import described_partitions, run_sync
from cityloop_shared.adapters.postgres import PostgresDatabase, libpq_url
from cityloop_shared.contract.audit import (
    JournalEntry,
    LoggedRecord,
    compare_with_journal,
    verify_log,
)
from cityloop_shared.contract.codec import UndecodableEvent, decode
from cityloop_shared.contract.topics import Stage, case_topics, event_topic
from cityloop_shared.messaging.security import PLAINTEXT, ClientSecurity, client_security
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import DatabaseSettings, KafkaSettings, ServiceSettings


async def read_log(
    bootstrap: str,
    topics: Sequence[str],
    console: Console | None = None,
    security: ClientSecurity = PLAINTEXT,
) -> list[LoggedRecord]:
    """Every record of ``topics`` as they stand now, partition by partition in offset order;
    on a secured cluster as the principal ``security`` logs in as (the operator's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await admin.start()
    await consumer.start()
    try:
        partitions = await described_partitions(admin, list(topics))
        consumer.assign(partitions)
        first = await consumer.beginning_offsets(partitions)
        last = await consumer.end_offsets(partitions)
        wanted = {tp: last[tp] for tp in partitions if last[tp] > first[tp]}
        for tp in partitions:
            consumer.seek(tp, first[tp])
        records: list[LoggedRecord] = []
        total = sum(last[tp] - first[tp] for tp in wanted)
        with Progress(console=console or Console(stderr=True), transient=True) as progress:
            task = progress.add_task("reading the log", total=total)
            while wanted:
                batch = await consumer.getmany(*wanted, timeout_ms=1000)
                for tp, found in batch.items():
                    for record in found:
                        if record.offset < wanted.get(tp, 0):
                            records.append(
                                LoggedRecord(
                                    tp.topic,
                                    tp.partition,
                                    record.offset,
                                    record.value,
                                    record.timestamp,
                                )
                            )
                    if found and found[-1].offset + 1 >= wanted.get(tp, 0):
                        wanted.pop(tp, None)
                progress.update(task, completed=len(records))
        return records
    finally:
        await consumer.stop()
        await admin.close()


def operator_login() -> ClientSecurity:
    """The login of ``CITYLOOP_KAFKA_SECURITY_PROTOCOL``, ``_USERNAME`` and ``_PASSWORD``: on a
    secured cluster the operator's principal, which may read every case topic."""
    return client_security(KafkaSettings())


def the_log(args: argparse.Namespace, topics: Sequence[str]) -> list[LoggedRecord]:
    """The records of ``topics``: from the archive when one is named, else from Kafka."""
    if args.archive is not None:
        wanted = set(topics)
        return [record for record in read_archive(args.archive) if record.topic in wanted]
    return run_sync(lambda: read_log(args.bootstrap, topics, security=operator_login()))


def archive(args: argparse.Namespace, console: Console) -> int:
    topics = case_topics(args.site, args.namespace)
    records = run_sync(lambda: read_log(args.bootstrap, topics, security=operator_login()))
    written = write_archive(records, args.out)
    console.print(f"{len(records)} records in {len(written)} daily file(s) under {args.out}")
    return 0


def journals(database_url: str, schema_prefix: str) -> dict[str, list[JournalEntry]]:
    """Each workflow service's journal, by the topic it publishes to."""
    found: dict[str, list[JournalEntry]] = {}
    with psycopg.connect(libpq_url(database_url)) as conn:
        for stage in WORKFLOW_STAGES:
            query = sql.SQL("SELECT case_id, event_id, sequence, event_hash FROM {}.journal")
            rows = conn.execute(query.format(sql.Identifier(f"{schema_prefix}{stage}"))).fetchall()
            found[stage] = [JournalEntry(*row) for row in rows]
    return found


def verify(args: argparse.Namespace, console: Console) -> int:
    topics = case_topics(args.site, args.namespace)
    records = the_log(args, topics)
    broken = verify_log(records)
    cases = {(r.topic, json.loads(r.value).get("case_id")) for r in records if r.value[:1] == b"{"}
    console.print(f"{len(records)} records, {len(cases)} case chains on {len(topics)} topics")
    problems = [str(link) for link in broken]
    if args.database:
        by_topic: dict[str, list[LoggedRecord]] = {}
        for record in records:
            by_topic.setdefault(record.topic, []).append(record)
        for stage, journal in journals(args.database, args.schema_prefix).items():
            topic = event_topic(args.site, Stage(stage), args.namespace)
            problems += [
                f"{stage}: {p}" for p in compare_with_journal(by_topic.get(topic, []), journal)
            ]
    if not problems:
        console.print(
            "every chain holds" + (" and every journal matches the log" if args.database else "")
        )
        return 0
    console.print(f"[bold red]{len(problems)} problem(s); the first:[/] {problems[0]}")
    for problem in problems[1:]:
        console.print(f"  {problem}")
    return 1


def timeline(args: argparse.Namespace, console: Console) -> int:
    records = the_log(args, case_topics(args.site, args.namespace))
    rows: list[dict[str, Any]] = []
    for record in records:
        try:
            event = decode(record.value)
        except UndecodableEvent:
            continue
        if event.case_id != args.case:
            continue
        payload = event.payload.model_dump(mode="json")
        rows.append(
            {
                "occurred_at": event.occurred_at.isoformat(),
                "event_type": event.event_type,
                "actor": event.actor.id,
                "role": event.actor.role.value,
                "site": event.site,
                "why": payload.get("reason") or payload.get("remarks") or "",
                "event_id": str(event.event_id),
                "caused_by": str(event.causation_id or ""),
                "logged_at": record.place,
            }
        )
    rows.sort(key=lambda row: (row["occurred_at"], row["logged_at"]))
    if not rows:
        console.print(f"no event of case {args.case} at site {args.site}")
        return 1
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        table = Table(title=f"case {args.case}")
        for column in rows[0]:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(value) for value in row.values()))
        console.print(table)
    return 0


def replay(args: argparse.Namespace, console: Console) -> int:
    stages = args.stage or list(WORKFLOW_STAGES)
    topics: set[str] = set(case_topics(args.site, args.namespace))
    for stage in stages:
        topology = replaying.service(stage).rules.topology
        topics |= set(
            topology.sources(
                args.site, args.namespace, args.districts.split(",") if args.districts else ()
            )
        )
    records = the_log(args, sorted(topics))
    received = {}
    for record in records:
        try:
            event = decode(record.value)
        except UndecodableEvent:
            continue
        received[event.event_id] = event
    results = run_sync(lambda: _replay_stages(args, stages, received))
    problems = 0
    for found in results:
        state = "the same" if not found.differences else f"{len(found.differences)} difference(s)"
        console.print(
            f"{found.stage}: {found.steps} steps, {found.rederived} derived again: {state}"
        )
        for difference in found.differences:
            console.print(f"  {difference}")
        problems += len(found.differences)
    return 1 if problems else 0


async def _replay_stages(
    args: argparse.Namespace, stages: Sequence[str], received: dict[UUID, Any]
) -> list[replaying.StageReplay]:
    reference = ReferenceData.load(args.reference) if args.reference else ReferenceData.demo()
    results = []
    with tempfile.TemporaryDirectory(prefix="cityloop-replay-") as folder:
        for stage in stages:
            live = PostgresDatabase(
                DatabaseSettings(url=args.database), f"{args.schema_prefix}{stage}"
            )
            try:
                results.append(
                    await replaying.replay_stage(
                        stage,
                        live,
                        received,
                        site=args.site,
                        namespace=args.namespace,
                        reference=reference,
                        into=Path(folder) / f"{stage}.sqlite",
                        selection=replaying.Selection(
                            case=args.case,
                            district=args.district,
                            since=args.since,
                            until=args.until,
                        ),
                    )
                )
            finally:
                await live.dispose()
    return results


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give the time zone, e.g. 2026-03-01T00:00+08:00")
    return moment


def _parser() -> argparse.ArgumentParser:
    settings = ServiceSettings()
    parser = argparse.ArgumentParser(prog="cityloop-audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("verify", "prove the log unaltered"),
        ("timeline", "one case's history"),
        ("replay", "replay the services' histories and compare with their stores"),
        ("archive", "write the site's log to Parquet files, one a day"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--site", default=settings.site)
        command.add_argument("--namespace", default=settings.topic_namespace)
        command.add_argument("--bootstrap", default=settings.kafka.bootstrap_servers)
        if name == "archive":
            command.add_argument("--out", type=Path, required=True, help="the archive's folder")
            continue
        command.add_argument("--archive", type=Path, help="read this archive, not Kafka")
        if name == "verify":
            command.add_argument("--database", help="also compare the services' journals")
            command.add_argument("--schema-prefix", default="", help="of the services' schemas")
        elif name == "timeline":
            command.add_argument("--case", type=UUID, required=True)
            command.add_argument("--format", choices=["table", "json", "csv"], default="table")
        else:
            command.add_argument("--database", default=settings.database.url)
            command.add_argument("--schema-prefix", default="", help="of the services' schemas")
            command.add_argument("--stage", action="append", choices=WORKFLOW_STAGES)
            command.add_argument("--case", type=UUID, help="only this case")
            command.add_argument("--district", help="only the cases of this district")
            command.add_argument(
                "--since", type=_moment, help="only cases with an event from then (ISO 8601)"
            )
            command.add_argument("--until", type=_moment, help="… and before then")
            command.add_argument("--districts", default=",".join(settings.district_sites))
            command.add_argument("--reference", type=Path, default=settings.reference_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Results are read by people and by scripts: one problem a line, however wide.
    console = Console(
        stderr=args.command == "timeline" and args.format != "table",
        soft_wrap=True,
        highlight=False,
    )
    commands = {"verify": verify, "timeline": timeline, "replay": replay, "archive": archive}
    return commands[args.command](args, console)


if __name__ == "__main__":
    raise SystemExit(main())
