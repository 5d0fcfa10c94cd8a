"""GeoReport v2 under ``/open311/v2``: discovery, services, service requests and tokens.

Every resource answers in XML or JSON by its suffix, errors included. Posting needs an API
key, within the site's limits per key and per client address, and files a public report
(公众举报) like the hotline's. Reading needs none, and reads only the cases shown to the
public (:attr:`cityloop_intake.state.Report.shown_to_public`); a reporter reads their own
request with its token whether it is shown or not.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError

from cityloop_intake.api import filed
from cityloop_intake.decisions import (
    FileReport,
    ReportedLocation,
    ReporterFeedback,
    report,
    reporter_feedback,
)
from cityloop_intake.filing import POINT_FIELD
from cityloop_intake.open311.formats import Format, Open311Error, error_response, respond
from cityloop_intake.open311.models import (
    RequestsQuery,
    ServiceRequestForm,
    service,
    service_category,
    service_request,
    w3c,
)
from cityloop_intake.open311.settings import Open311Settings
from cityloop_intake.open311.statuses import statuses_shown_as
from cityloop_intake.open311.throttle import PostingLimits
from cityloop_intake.store import (
    own_request,
    request_of_token,
    requests_by_id,
    requests_matching,
)
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.contract.values import (
    Attachment,
    ClockStep,
    PublicReporter,
    ReportChannel,
    TimeUnit,
)
from cityloop_shared.reference.categories import Category
from cityloop_shared.runtime.commands import IdempotencyKey, run_command, service_runtime
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.transaction import StageTransaction
from cityloop_shared.stage.decisions import Context, Invalid, Refused

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_SPAN = timedelta(days=90)
"""The longest start_date..end_date range of GET requests, and the default range."""

_UNITS = {
    TimeUnit.WORKING_MINUTES: "工作分钟",
    TimeUnit.WORKING_HOURS: "工作小时",
    TimeUnit.WORKING_DAYS: "个工作日",
}


@dataclass(frozen=True, slots=True)
class Open311State:
    settings: Open311Settings
    changeset: str
    """When this process loaded the services (the category dictionary), for client caches."""
    limits: PostingLimits


class Open311Route(APIRoute):
    """Answers every refusal in the request's format as a GeoReport error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            fmt = Format.of_path(request.url.path)
            try:
                return await handler(request)
            except Open311Error as error:
                return error_response(fmt, error)
            except (RequestValidationError, ValidationError) as error:
                return error_response(fmt, Open311Error(400, *_described(error.errors())))
            except HTTPException as error:
                code = error.status_code if error.status_code in (403, 404) else 400
                return error_response(fmt, Open311Error(code, _detail(error.detail)))
            except Refused as refusal:
                code = refusal.status_code if refusal.status_code in (403, 404) else 400
                return error_response(fmt, Open311Error(code, refusal.detail))

        return answer


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


def open311_state(settings: Open311Settings, zone: ZoneInfo) -> Open311State:
    """What the endpoints need besides the runtime; the services change when this is made."""
    return Open311State(settings, w3c(datetime.now(UTC), zone), PostingLimits(settings))


@router.get("/discovery.{fmt}")
async def discovery(fmt: Format, request: Request) -> Response:
    """Service Discovery: where this GeoReport v2 endpoint is and what it speaks."""
    state = _state(request)
    return respond(
        fmt,
        "discovery",
        {
            "changeset": state.changeset,
            "contact": state.settings.contact,
            "key_service": state.settings.key_service,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": str(request.base_url).rstrip("/") + router.prefix,
                    "changeset": state.changeset,
                    "type": "production",
                    "formats": [Format.XML.media_type, Format.JSON.media_type],
                }
            ],
        },
    )


@router.get("/services.{fmt}")
async def services(fmt: Format, request: Request, jurisdiction_id: str | None = None) -> Response:
    """The services: every category of the site's dictionary, grouped by major category."""
    _check_jurisdiction(request, jurisdiction_id)
    categories = service_runtime(request).reference.categories
    return respond(fmt, "services", [service(categories, category) for category in categories])


@router.get("/services/{service_code}.{fmt}")
async def service_definition(
    service_code: str, fmt: Format, request: Request, jurisdiction_id: str | None = None
) -> Response:
    """A service's definition: no category asks for extra attributes."""
    _check_jurisdiction(request, jurisdiction_id)
    _service(request, service_code)
    return respond(fmt, "service_definition", {"service_code": service_code, "attributes": []})


@router.post("/requests.{fmt}", status_code=status.HTTP_201_CREATED)
async def post_service_request(
    fmt: Format, request: Request, key: IdempotencyKey = None
) -> Response:
    """A public report (公众举报) from a 311 client: it opens a case like a hotline call."""
    runtime = service_runtime(request)
    owner, fields = await _posted(request, "posting requests")
    form = ServiceRequestForm.model_validate(fields)
    _check_jurisdiction(request, form.jurisdiction_id)
    category = _service(request, form.service_code)
    token = secrets.token_hex(16)
    command = _command(form, category, token)
    actor = Actor(id=f"open311:{owner}", role=Role.PUBLIC, site=runtime.site)

    async def work(transaction: StageTransaction[Any]) -> list[dict[str, Any]]:
        # The same read and decision as the centre's POST /reports.
        filing = await filed(transaction, None, command)
        context = _context(transaction, actor)
        decision = report(None, filing, context)
        (event,) = await transaction.decide(None, decision.events, actor=actor, at=context.now)
        # The id is known at once (type realtime); the token comes too, for clients that
        # keep only tokens.
        return [
            {
                "service_request_id": str(event.case_id),
                "token": token,
                "service_notice": _notice(runtime, category, filing.possible_duplicates),
            }
        ]

    try:
        answered = await run_command(
            runtime, actor, key, form, work, status_code=status.HTTP_201_CREATED
        )
    except Invalid as refusal:
        if refusal.loc[1:2] != POINT_FIELD:
            raise
        # The command's location (its point, or the grid it falls in) is the form's lat, long.
        raise Open311Error(status.HTTP_400_BAD_REQUEST, f"lat, long: {refusal.detail}") from None
    return respond(fmt, "service_requests", json.loads(bytes(answered.body)), answered.status_code)


@router.get("/tokens/{token}.{fmt}")
async def service_request_of_token(
    token: str, fmt: Format, request: Request, jurisdiction_id: str | None = None
) -> Response:
    """The service request a token was given with."""
    _check_jurisdiction(request, jurisdiction_id)
    async with service_runtime(request).database.reading() as reader:
        case_id = await request_of_token(reader, token)
    if case_id is None:
        raise Open311Error(status.HTTP_404_NOT_FOUND, f"token {token} not found")
    return respond(fmt, "service_requests", [{"service_request_id": str(case_id), "token": token}])


@router.get("/requests.{fmt}")
async def service_requests(fmt: Format, request: Request) -> Response:
    """Requests by id, or by service, date range (90 days at most) and open/closed."""
    runtime = service_runtime(request)
    arguments: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if value:
            arguments[name] = f"{arguments[name]},{value}" if name in arguments else value
    query = RequestsQuery.model_validate(arguments)
    _check_jurisdiction(request, query.jurisdiction_id)
    async with runtime.database.reading() as reader:
        if query.service_request_id:
            rows = await requests_by_id(reader, query.service_request_id)
        else:
            start, end = _date_range(query)
            rows = await requests_matching(
                reader,
                category_codes=[code.rpartition("-")[2] for code in query.service_code],
                start=start,
                end=end,
                statuses=statuses_shown_as(query.status),
            )
    settings = _state(request).settings
    return respond(
        fmt,
        "service_requests",
        [service_request(runtime.reference, row, settings) for row in rows],
    )


@router.get("/requests/{service_request_id}.{fmt}")
async def service_request_detail(
    service_request_id: str,
    fmt: Format,
    request: Request,
    jurisdiction_id: str | None = None,
    token: str | None = None,
) -> Response:
    """One request shown to the public; with its ``token`` (CityLoop's extension), the
    reporter's own, shown or not, with the address and point they gave. A request not shown
    is not found, so its existence is not told."""
    _check_jurisdiction(request, jurisdiction_id)
    runtime = service_runtime(request)
    try:
        case_id = UUID(service_request_id)
    except ValueError:
        case_id = None
    row = None
    if case_id is not None:
        async with runtime.database.reading() as reader:
            if token:
                row = await own_request(reader, case_id, token)
            else:
                row = next(iter(await requests_by_id(reader, [case_id])), None)
    if row is None:
        raise Open311Error(
            status.HTTP_404_NOT_FOUND, f"service_request_id {service_request_id} not found"
        )
    settings = _state(request).settings
    answer = service_request(runtime.reference, row, settings, own=bool(token))
    return respond(fmt, "service_requests", [answer])


@router.post("/requests/{service_request_id}/feedback.{fmt}")
async def post_feedback(
    service_request_id: str, fmt: Format, request: Request, key: IdempotencyKey = None
) -> Response:
    """The reporter's word on a closed request (score 1–5 and a comment), with the token the
    request was given: CityLoop's extension of GeoReport v2 for external evaluation."""
    runtime = service_runtime(request)
    owner, fields = await _posted(request, "feedback")
    token = fields.pop("token", None)
    try:
        feedback = ReporterFeedback(
            score=fields.pop("score", ""),
            remarks=fields.pop("comment", None),
        )
        case_id = UUID(service_request_id)
    except (ValidationError, ValueError) as error:
        raise Open311Error(status.HTTP_400_BAD_REQUEST, _feedback_problem(error)) from None
    actor = Actor(id=f"open311:{owner}", role=Role.PUBLIC, site=runtime.site)

    async def work(transaction: StageTransaction[Any]) -> dict[str, Any]:
        record = await transaction.case(case_id)
        owned = token is not None and record is not None and record.token == token
        if record is None or not (owned or record.shown_to_public):
            raise Open311Error(
                status.HTTP_404_NOT_FOUND, f"service_request_id {service_request_id} not found"
            )
        if not owned:
            # Only the reporter, who was given the token, speaks for the request.
            raise Open311Error(status.HTTP_403_FORBIDDEN, "token: not the token of this request")
        context = _context(transaction, actor)
        decision = reporter_feedback(record, feedback, context)
        await transaction.decide(record, decision.events, actor=actor, at=context.now)
        return {"service_request_id": service_request_id, "score": feedback.score}

    try:
        answered = await run_command(runtime, actor, key, fields, work)
    except IllegalTransition:
        raise Open311Error(
            status.HTTP_409_CONFLICT, "feedback is taken once the request is closed"
        ) from None
    return respond(fmt, "feedback", [json.loads(bytes(answered.body))], answered.status_code)


def _feedback_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return f"service_request_id: {error}"


def _context(transaction: StageTransaction[Any], actor: Actor) -> Context:
    """What a decision on the public's behalf is made in: the transaction's moment and site."""
    return Context(
        actor=actor,
        now=transaction.now,
        reference=transaction.reference,
        site=transaction.site,
        view=transaction.view,
    )


async def _posted(request: Request, what: str) -> tuple[str, dict[str, str]]:
    """Who posts (the owner of the form's or the query's API key) and the form's fields,
    once the post is within the limits of its client address and of its key; else 429, or
    403 for a missing or unknown key."""
    state = _state(request)
    await state.limits.admit_client(request.client.host if request.client else "unknown")
    fields = await _form(request)
    owner = state.settings.owner_of(
        fields.pop("api_key", None) or request.query_params.get("api_key")
    )
    if owner is None:
        raise Open311Error(
            status.HTTP_403_FORBIDDEN, f"invalid or missing api_key: {what} needs a key"
        )
    await state.limits.admit_key(owner)
    return owner, fields


def _state(request: Request) -> Open311State:
    state: Open311State = request.app.state.open311
    return state


def _check_jurisdiction(request: Request, jurisdiction_id: str | None) -> None:
    """One endpoint, one jurisdiction: the site (or its configured id); others are unknown."""
    own = _state(request).settings.jurisdiction_id or service_runtime(request).site
    if jurisdiction_id and jurisdiction_id != own:
        raise Open311Error(
            status.HTTP_404_NOT_FOUND,
            f"jurisdiction_id {jurisdiction_id} not found: this endpoint serves {own}",
        )


def _service(request: Request, code: str) -> Category:
    found = service_category(service_runtime(request).reference.categories, code)
    if found is None:
        raise Open311Error(status.HTTP_404_NOT_FOUND, f"service_code {code} not found")
    return found


async def _form(request: Request) -> dict[str, str]:
    """The form fields; blank ones are left out, as the spec treats them as not sent."""
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
        raise Open311Error(
            status.HTTP_400_BAD_REQUEST,
            "send the request as application/x-www-form-urlencoded",
        )
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(status.HTTP_400_BAD_REQUEST, "the form is not UTF-8") from None
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text):
        if name.startswith("attribute["):
            continue  # no service defines attributes, so there are none to read
        if name in fields:
            raise Open311Error(status.HTTP_400_BAD_REQUEST, f"{name}: given more than once")
        fields[name] = value
    return fields


def _command(form: ServiceRequestForm, category: Category, token: str) -> FileReport:
    """The report the form makes, as the centre's own front door takes it: public, with the
    token as the channel's id."""
    if form.lat is None or form.long is None:
        raise Open311Error(
            status.HTTP_400_BAD_REQUEST,
            "lat, long: both are required; an address alone cannot be placed on the grid map"
            if form.address_string or form.address_id
            else "lat, long: both are required",
        )
    name = " ".join(part for part in (form.first_name, form.last_name) if part) or None
    reporter = (
        PublicReporter(name=name, phone=form.phone, email=form.email)
        if name or form.phone or form.email
        else None
    )
    attachments: tuple[Attachment, ...] = ()
    if form.media_url is not None:
        media_type = mimetypes.guess_type(urlsplit(str(form.media_url)).path)[0]
        attachments = (
            Attachment(uri=form.media_url, media_type=media_type or "application/octet-stream"),
        )
    return FileReport(
        channel=ReportChannel.PUBLIC,
        category_code=category.code,
        category_kind=category.kind,
        description=form.description or category.name,
        location=ReportedLocation(lon=form.long, lat=form.lat, address=form.address_string),
        attachments=attachments,
        reporter=reporter,
        external_id=token,
    )


def _notice(runtime: ServiceRuntime, category: Category, duplicates: Sequence[UUID]) -> str:
    limit = runtime.reference.time_limits.limit_for(ClockStep.ACCEPTANCE, category.code)
    notice = f"已收到，监督中心将在{limit.amount.normalize():f}{_UNITS[limit.unit]}内受理。"
    if duplicates:
        notice += "附近已有同类问题正在办理，您的举报已一并记录。"
    return notice


def _date_range(query: RequestsQuery) -> tuple[datetime, datetime]:
    try:
        end = query.end_date or (
            query.start_date + MAX_SPAN if query.start_date else datetime.now(UTC)
        )
        start = query.start_date or end - MAX_SPAN
    except OverflowError:
        # The default 90 days from a date at either end of the calendar run past it.
        given = "start_date" if query.end_date is None else "end_date"
        raise Open311Error(
            status.HTTP_400_BAD_REQUEST, f"{given}: 90 days from it run past the calendar"
        ) from None
    if end < start:
        raise Open311Error(status.HTTP_400_BAD_REQUEST, "end_date: before start_date")
    if end - start > MAX_SPAN:
        raise Open311Error(
            status.HTTP_400_BAD_REQUEST, "start_date, end_date: may not span more than 90 days"
        )
    return start, end


def _described(errors: Sequence[Any]) -> list[str]:
    """Validation errors as descriptions that name the field, e.g. ``lat: …``."""
    described = []
    for error in errors:
        where = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
        described.append(f"{'.'.join(where) or 'request'}: {error['msg']}")
    return described


def _detail(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail)
