"""An analyst's example: subscribe to a site's analytics topic (no personal data) and find the
hotspots — which grid has which problems most — as a table and a heat map (SVG).

    uv run python docs/analyst/hotspots.py --site 370200 --out hotspots.svg

Reads the topic from its start to its end as it stands, drops an event id seen before (the
stream is at least once), counts the problems reported (opened by a report or a
self-handled report) by grid and category, prints the table, and draws grids × categories
with the count in each cell, darker for more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

OPENING = {"case.reported", "case.self_handled"}


async def read(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of the topic as it stands, each event once."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp: end for tp, end in ends.items() if end > 0}
        found: dict[str, dict[str, Any]] = {}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    event = json.loads(record.value)
                    found.setdefault(event["event_id"], event)
                    if record.offset + 1 >= left.get(tp, 0):
                        left.pop(tp, None)
        return list(found.values())
    finally:
        await consumer.stop()


def hotspots(events: Iterable[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Problems reported, by (grid, category code)."""
    counted: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event["event_type"] in OPENING:
            payload = event["payload"]
            category = (payload.get("category") or {}).get("code", "unknown")
            counted[(payload["location"]["grid_code"], category)] += 1
    return counted


def table(counted: Counter[tuple[str, str]]) -> str:
    lines = ["grid             category  problems"]
    for (grid, category), count in counted.most_common():
        lines.append(f"{grid}  {category:<8}  {count:>8}")
    return "\n".join(lines)


def heat_map(counted: Counter[tuple[str, str]]) -> str:
    """Grids down, categories across, the count in each cell; darker is more."""
    grids = sorted({grid for grid, _ in counted})
    categories = sorted({category for _, category in counted})
    most = max(counted.values(), default=1)
    cell, left, top = 44, 150, 40
    width, height = left + cell * len(categories) + 10, top + cell * len(grids) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for column, category in enumerate(categories):
        x = left + column * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 8}" text-anchor="middle">{escape(category)}</text>')
    for row, grid in enumerate(grids):
        y = top + row * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" text-anchor="end">{escape(grid)}</text>'
        )
        for column, category in enumerate(categories):
            count = counted.get((grid, category), 0)
            shade = int(255 - 200 * count / most)
            parts.append(
                f'<rect class="cell" data-grid="{grid}" data-category="{category}" '
                f'data-count="{count}" x="{left + column * cell}" y="{y}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="rgb(255,{shade},{shade})"/>'
            )
            if count:
                parts.append(
                    f'<text x="{left + column * cell + cell / 2 - 1}" y="{y + cell / 2 + 4}" '
                    f'text-anchor="middle">{count}</text>'
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> Counter[tuple[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", default="370200")
    parser.add_argument("--namespace", default=None)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--out", type=Path, default=Path("hotspots.svg"))
    args = parser.parse_args(argv)
    topic = f"cityloop.{args.site}.analytics.v1"
    if args.namespace:
        topic = f"{args.namespace}.{topic}"
    counted = hotspots(asyncio.run(read(args.bootstrap, topic)))
    print(table(counted))
    args.out.write_text(heat_map(counted), encoding="utf-8")
    print(f"heat map: {args.out}")
    return counted


if __name__ == "__main__":
    main()
