"""The mirror links between the city's cluster and each district's: every case topic of the
district up to the city, and the city's events about the district's cases down to it.

Topic names are the same on both sides, so a stage reads the other level's topics under
their own names (:meth:`Topology.sources`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRecord
from sqlalchemy import select

from cityloop_shared.contract.codec import UndecodableEvent, decode
from cityloop_shared.contract.topics import case_topics
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.security import ClientSecurity
from cityloop_shared.ports.unit_of_work import Database
from cityloop_sync.mirror import MirrorLink
from cityloop_sync.store import city_cases

log = get_logger("cityloop.sync.links")


def up_link(
    district: str,
    district_bootstrap: str,
    city: str,
    city_bootstrap: str,
    namespace: str | None,
    security: ClientSecurity,
) -> MirrorLink:
    """Every event of the district, to the city."""
    return MirrorLink(
        name=f"{district} → {city}",
        source_bootstrap=district_bootstrap,
        target_bootstrap=city_bootstrap,
        topics=case_topics(district, namespace),
        security=security,
    )


def down_link(
    district: str,
    district_bootstrap: str,
    city: str,
    city_bootstrap: str,
    namespace: str | None,
    database: Database,
    security: ClientSecurity,
) -> MirrorLink:
    """The city's events about the district's cases, to the district."""
    return MirrorLink(
        name=f"{city} → {district}",
        source_bootstrap=city_bootstrap,
        target_bootstrap=district_bootstrap,
        topics=case_topics(city, namespace),
        select=DistrictOfCase(database, district).select,
        security=security,
    )


class DistrictOfCase:
    """Picks a district's cases from the city's topics by the projection's record of where
    each case was reported. A case the projection does not know yet is waited for: the city
    acts on a district's case only after it read the forwarding the projection also reads."""

    def __init__(self, database: Database, district: str, patience_s: float = 30.0) -> None:
        self.database = database
        self.district = district
        self.patience_s = patience_s

    async def select(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[bool]:
        cases = [_case_id(record) for record in records]
        wanted = {case for case in cases if case is not None}
        sites: dict[UUID, str] = {}
        waited = 0.0
        while True:
            async with self.database.reading() as reader:
                rows = await reader.rows(
                    select(city_cases.c.case_id, city_cases.c.site).where(
                        city_cases.c.case_id.in_(list(wanted))
                    )
                )
            sites = {row["case_id"]: row["site"] for row in rows}
            unknown = wanted - sites.keys()
            if not unknown:
                break
            if waited >= self.patience_s:
                log.warning(
                    "down_link.waiting_for_cases",
                    district=self.district,
                    cases=sorted(unknown)[:5],
                    waited_s=waited,
                )
                waited = 0.0
            await asyncio.sleep(0.2)
            waited += 0.2
        return [case is not None and sites.get(case) == self.district for case in cases]


def _case_id(record: ConsumerRecord[Any, Any]) -> UUID | None:
    """The case a record is about: its key, as every stage keys its events."""
    try:
        return UUID(bytes(record.key).decode()) if record.key is not None else None
    except ValueError:
        pass
    try:
        return decode(record.value).case_id
    except UndecodableEvent:
        return None
