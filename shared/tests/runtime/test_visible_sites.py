"""A list's site filter shows an actor the very cases the actor may act on: a district's own,
and the whole city's to the city's people, never another city's."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.runtime.auth import may_act_on, visible_sites

SITES = ["370200", "370202", "370212", "370300", "370312"]
"""Qingdao, two of its districts; Zibo and one of its districts."""
listed = Table("listed", MetaData(), Column("site", String(6), primary_key=True))


@pytest.mark.parametrize(
    ("site", "visible"),
    [
        ("370212", ["370212"]),
        ("370200", ["370200", "370202", "370212"]),
        ("370300", ["370300", "370312"]),
    ],
)
def test_a_list_shows_the_sites_the_actor_may_act_on(site: str, visible: list[str]) -> None:
    actor = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=site)
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            listed.create(conn)
            conn.execute(insert(listed), [{"site": s} for s in SITES])
            shown = conn.scalars(
                select(listed.c.site).where(visible_sites(actor, listed.c.site)).order_by("site")
            ).all()
    finally:
        engine.dispose()
    assert shown == visible == [s for s in SITES if may_act_on(actor, s)]
