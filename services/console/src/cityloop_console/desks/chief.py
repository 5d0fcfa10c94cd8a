"""值班长 (duty chief): registration (立案) with the category dictionary, cancellation,
forwarding to the city (转市级) at a district or the city's answer to it (批转 / 退回) at the
city, voiding decisions, and closing (结案) the checked cases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.services import Answer
from cityloop_console.web import desk, render, request_names, services_of
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.lifecycle import TERMINAL
from cityloop_shared.contract.sites import SiteLevel, site_level

router = APIRouter()


@router.get("/chief")
async def chief_desk(request: Request) -> Response:
    session = desk(request, Role.DUTY_CHIEF)
    services = services_of(request)
    site = session.site
    at_city = site_level(site) is SiteLevel.CITY

    async def cases(**filters: object) -> Answer:
        return await services.query(session, site, "casefile", "/cases", **filters)

    accepted = await cases(status="accepted")
    verified = await cases(status="verified")
    to_register = [
        c
        for answer in (accepted, verified)
        if answer.ok
        for c in answer.body["cases"]
        if answer is verified or not c.get("needs_verification")
    ]
    open_cases = await cases(limit=500)
    voiding = (
        [
            c
            for c in open_cases.body["cases"]
            if c.get("void_requested_by") and c["status"] not in TERMINAL
        ]
        if open_cases.ok
        else []
    )
    return render(
        request,
        "chief.html",
        session=session,
        at_city=at_city,
        registering=accepted if not accepted.ok else verified,
        to_register=to_register,
        to_forward=await cases(level="city", status="registered") if not at_city else None,
        forwarded_in=await cases(status="forwarded_to_city") if at_city else None,
        to_close=await cases(status="check_passed"),
        open_cases=open_cases,
        voiding=voiding,
        dictionary=request_names(request).dictionary(),
    )
