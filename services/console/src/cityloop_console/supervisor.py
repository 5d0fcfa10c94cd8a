"""The field supervisor's page (信息监督员, the phone app 城管通): an installable web app that
lists the supervisor's on-site tasks (核实, 核查), files reports (上报), and keeps working
without network.

This module serves the app shell, its web manifest and its service worker; the page's
script (``static/supervisor/``) keeps every action in an outbox on the phone and sends it,
with the idempotency key made when it was taken, through the console's ``/api`` and
``/media`` when the network allows (docs/console-supervisor.md).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.reference.bundle import ReferenceData

from .web import desk, language_of, reference_of

router = APIRouter(prefix="/supervisor", tags=["supervisor"])

_PACKAGE = Path(__file__).parent
_STATIC = _PACKAGE / "static" / "supervisor"
_TEMPLATES = _PACKAGE / "templates" / "supervisor"
_templates = Jinja2Templates(directory=_TEMPLATES)

SCOPE = "/supervisor/"
STATIC_URL = "/static/supervisor/"
NO_STORE = {"Cache-Control": "no-cache"}
"""The shell names who is signed in and the worker decides what is kept: both are asked for
again each time, never taken from the browser's HTTP cache unchecked."""


@cache
def strings() -> dict[str, dict[str, str]]:
    """The page's words in each language (``templates/supervisor/strings.json``)."""
    loaded: dict[str, dict[str, str]] = json.loads(
        (_TEMPLATES / "strings.json").read_text(encoding="utf-8")
    )
    return loaded


@cache
def version() -> str:
    """A digest of the page's files: a new one makes phones take the new shell and assets."""
    digest = hashlib.sha256()
    for folder in (_STATIC, _TEMPLATES):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def assets() -> list[str]:
    """What the service worker keeps so that the page opens offline, besides the shell."""
    v = version()
    return [
        f"{STATIC_URL}app.js?v={v}",
        f"{STATIC_URL}app.css?v={v}",
        f"{STATIC_URL}outbox.js",
        f"{STATIC_URL}icon.svg",
        f"{STATIC_URL}icon-192.png",
        f"{STATIC_URL}icon-512.png",
        f"{SCOPE}manifest.webmanifest",
    ]


def _words(request: Request) -> dict[str, str]:
    return strings().get(language_of(request), strings()["zh"])


def supervisor_session(request: Request, reference: ReferenceData) -> dict[str, Any]:
    """Who the page works for: the supervisor, their site, the city that entrusts checks to
    them, and their grids (from the supervisors' roster)."""
    actor = desk(request, Role.FIELD_SUPERVISOR).actor
    listed = reference.supervisors.get(actor.id)
    codes = listed.grid_codes if listed is not None and listed.site == actor.site else ()
    grids = []
    for code in codes:
        grid = reference.grids.get(code)
        grids.append({"code": code, "name": grid.name if grid else ""})
    city = city_of(actor.site) if site_level(actor.site) is SiteLevel.DISTRICT else None
    return {
        "id": actor.id,
        "name": listed.name if listed else actor.id,
        "site": actor.site,
        "city": city,
        "grids": grids,
    }


def category_groups(reference: ReferenceData) -> list[dict[str, Any]]:
    """The category dictionary by major (大类), for the report form's list."""
    ordered = sorted(reference.categories, key=lambda c: (c.kind.value, c.major_code, c.code))
    return [
        {
            "code": major,
            "name": members[0].major_name,
            "categories": [{"code": c.code, "name": c.name, "kind": c.kind.value} for c in members],
        }
        for (_, major), group in groupby(ordered, key=lambda c: (c.kind, c.major_code))
        for members in [list(group)]
    ]


@router.get("/", response_class=HTMLResponse)
def shell(request: Request) -> HTMLResponse:
    """The app shell: the page, with who is signed in, their grids and the categories."""
    reference = reference_of(request)
    session = supervisor_session(request, reference)
    return _templates.TemplateResponse(
        request,
        "shell.html",
        {
            "t": _words(request),
            "session": session,
            "categories": category_groups(reference),
            "version": version(),
        },
        headers=NO_STORE,
    )


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    """The signed-in supervisor, as the page knows them."""
    return supervisor_session(request, reference_of(request))


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> JSONResponse:
    """The web app manifest: what a phone installs. Browsers fetch it without the session's
    cookie, so it names no one."""
    words = _words(request)
    body = {
        "name": words["app_name"],
        "short_name": words["app_short_name"],
        "description": words["app_description"],
        "lang": words["lang"],
        "id": SCOPE,
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f4f6f7",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": f"{STATIC_URL}icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": f"{STATIC_URL}icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": f"{STATIC_URL}icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": f"{STATIC_URL}icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return JSONResponse(body, media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from under ``/supervisor/`` so its scope is the page."""
    script = _templates.get_template("sw.js").render(version=version(), assets=assets())
    return Response(script, media_type="text/javascript; charset=utf-8", headers=NO_STORE)
