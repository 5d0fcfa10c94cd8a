"""领导驾驶舱 (dashboard): the map of open cases by grid with their time-limit lights, the
overdue cases, and the evaluation's league tables and charts. At a district the district's
own cases (its case file); at the city every district's, from the city-level projection."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.gridmap import grid_lights, grid_map, is_open
from cityloop_console.services import Answer
from cityloop_console.web import DASHBOARD_ROLES, desk, reference_of, render, services_of
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level

router = APIRouter()


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    session = desk(request, *DASHBOARD_ROLES)
    services = services_of(request)
    reference = reference_of(request)
    site = session.site
    at_city = site_level(site) is SiteLevel.CITY
    source = "sync" if at_city else "casefile"
    cases = await services.query(session, site, source, "/cases", limit=500)
    overdue = await services.query(session, site, source, "/cases", overdue=True, limit=100)
    statistics = (
        await services.query(session, site, "sync", "/statistics", by="site") if at_city else None
    )
    grids = [
        g
        for g in reference.grids
        if (city_of(g.district) == site if at_city else g.district == site)
    ]
    now = datetime.now(UTC)
    open_cases = [c for c in cases.body["cases"] if is_open(c)] if cases.ok else []
    period = now.astimezone(reference.calendar.zone).strftime("%Y-%m")
    subjects = ["district" if at_city else "street", "department"]
    evaluation: dict[str, Answer] = {}
    if services.has(site, "evaluation"):
        for subject in subjects:
            evaluation[subject] = await services.query(
                session, site, "evaluation", f"/evaluation/{subject}", period=period
            )
    return render(
        request,
        "dashboard.html",
        session=session,
        at_city=at_city,
        cases=cases,
        open_cases=open_cases,
        overdue=overdue,
        statistics=statistics,
        map=grid_map(grids, grid_lights(open_cases, now)),
        period=period,
        evaluation=evaluation,
    )
