"""A site's log as Parquet files, one a day: kept past the topics' retention, read back by
``cityloop-audit`` as it reads Kafka, and opened directly by DuckDB or pandas.

Each row is one record as the log held it: topic, partition, offset, when it was logged, the
case, event id and type, and the record's value (the event's JSON as written, so its hash
still proves it). A day is the UTC day the log took the record.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cityloop_shared.contract.audit import LoggedRecord

SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("logged_at", pa.timestamp("ms", tz="UTC")),
        ("case_id", pa.string()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("value", pa.string()),
    ]
)


def write_archive(records: Iterable[LoggedRecord], folder: Path) -> list[Path]:
    """One file a day under ``folder`` (``YYYY-MM-DD.parquet``); a day already archived is
    written again whole. The files written."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        moment = datetime.fromtimestamp((record.logged_at_ms or 0) / 1000, UTC)
        by_day[moment.date().isoformat()].append(_row(record, moment))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for day, rows in sorted(by_day.items()):
        rows.sort(key=lambda row: (row["topic"], row["partition"], row["offset"]))
        path = folder / f"{day}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
        written.append(path)
    return written


def read_archive(folder: Path) -> list[LoggedRecord]:
    """Every record of the archive, each partition in offset order."""
    records = [
        LoggedRecord(
            row["topic"],
            row["partition"],
            row["offset"],
            row["value"].encode(),
            int(row["logged_at"].timestamp() * 1000) if row["logged_at"] else None,
        )
        for path in sorted(folder.glob("*.parquet"))
        for row in pq.read_table(path, schema=SCHEMA).to_pylist()
    ]
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


def _row(record: LoggedRecord, moment: datetime) -> dict[str, Any]:
    known: tuple[str | None, ...] = (None, None, None)
    try:
        raw = json.loads(record.value)
        known = (str(raw.get("case_id")), str(raw.get("event_id")), str(raw.get("event_type")))
    except (ValueError, AttributeError):
        pass  # not an event: archived as it was, for verify to name
    case_id, event_id, event_type = known
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "logged_at": moment,
        "case_id": case_id,
        "event_id": event_id,
        "event_type": event_type,
        "value": bytes(record.value).decode(errors="replace"),
    }
