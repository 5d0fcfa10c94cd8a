"""One case file (案卷) with its whole timeline: who did what, when, why; the photos with it.
At the city a case not in the city's own case file is shown as the city-level projection
sees it, across the sites."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.web import SignInNeeded, render, services_of, session_of
from cityloop_shared.contract.sites import SiteLevel, site_level

router = APIRouter()


@router.get("/cases/{case_id}")
async def case_page(case_id: UUID, request: Request) -> Response:
    session = session_of(request)
    if session is None:
        raise SignInNeeded
    services = services_of(request)
    answer = await services.query(session, session.site, "casefile", f"/cases/{case_id}")
    projected = False
    if answer.status_code == 404 and site_level(session.site) is SiteLevel.CITY:
        answer = await services.query(session, session.site, "sync", f"/cases/{case_id}")
        projected = answer.ok
    if not answer.ok:
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
        return render(
            request,
            "not_found.html",
            status_code=answer.status_code,
            detail=detail,
        )
    case: dict[str, Any] = answer.body
    return render(
        request,
        "case.html",
        session=session,
        case=case,
        projected=projected,
        photos=_photos(case),
    )


def _photos(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Every image a timeline entry carries: the report's, the verification's, the
    department's evidence and the check's."""
    found = []
    for entry in case.get("timeline", []):
        payload = entry.get("payload") or {}
        for key in ("attachments", "evidence"):
            for item in payload.get(key) or []:
                if str(item.get("media_type", "")).startswith("image/"):
                    found.append({**item, "event_type": entry["event_type"]})
    return found
