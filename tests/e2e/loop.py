"""Drives cases through the running services over HTTP, as the people of a centre would."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID, uuid4

import httpx
import psycopg

from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet
from cityloop_deploy.identities import site_token_issuer
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.testing.identity import bearer

GRID_POINT = {"lon": 120.45, "lat": 36.13}
"""In grid 370212003001001 of the demo city, supervised by sv-370212-03."""
SUPERVISOR = "sv-370212-03"
PLACES = {
    "370212": (GRID_POINT, SUPERVISOR),
    # Grid 370202001001001 of 市南区.
    "370202": ({"lon": 120.33, "lat": 36.05}, "sv-370202-01"),
}
"""Where each district's cases are reported, and the supervisor of that grid."""
T = TypeVar("T")
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}


class Loop:
    """The people of one site at their desks. ``district`` is where the cases are on the
    ground: the site's own, or for the city the district whose supervisor it entrusts."""

    def __init__(self, fleet: Fleet, district: str | None = None) -> None:
        self.fleet = fleet
        self.site = fleet.config.site
        self.district = district or self.site
        self.grid_point, self.supervisor = PLACES[self.district]
        self._postgres_url = libpq_url(fleet.config.database_url)
        self.http = {
            stage: httpx.Client(base_url=fleet.config.url(stage), timeout=30)
            for stage in fleet.services
        }

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for client in self.http.values():
            client.close()

    # --- people -----------------------------------------------------------------------
    def auth(
        self,
        role: Role,
        id: str | None = None,
        site: str | None = None,
        department: str | None = None,
    ) -> dict[str, str]:
        actor = Actor(
            id=id or f"{role.value}-1", role=role, site=site or self.site, department_id=department
        )
        jwks = self.fleet.config.extra_env.get("CITYLOOP_AUTH_JWKS_FILE")
        if jwks is None:
            return bearer(actor)
        token = site_token_issuer(Path(jwks).parent, actor.site).issue(actor)
        return {"Authorization": f"Bearer {token}"}

    def staff(self, department_id: str) -> dict[str, str]:
        return self.auth(Role.DEPARTMENT, id=f"{department_id}-staff", department=department_id)

    # --- HTTP ---------------------------------------------------------------------------
    def post(
        self,
        stage: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        expect: int = 200,
    ) -> dict[str, Any]:
        """A command, resent with the same idempotency key while the service is unreachable,
        as a phone on a bad network does."""
        headers = {**headers, "Idempotency-Key": uuid4().hex}
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.http[stage].post(path, json=body, headers=headers)
                if response.status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{stage} {path}: no answer within 60 s")
            time.sleep(0.2)
        assert response.status_code == expect, (
            f"{stage} {path}: {response.status_code} {response.text}"
        )
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, stage: str, path: str, headers: dict[str, str], **params: Any) -> Any:
        """A query's answer, or None while the service restarts (the caller polls again)."""
        try:
            response = self.http[stage].get(path, headers=headers, params=params)
        except httpx.TransportError:
            return None
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def case(self, case_id: UUID) -> dict[str, Any] | None:
        """The case file, as casefile (the site's read model) keeps it, with its timeline."""
        found: dict[str, Any] | None = self.get(
            "casefile", f"/cases/{case_id}", self.auth(Role.DUTY_CHIEF)
        )
        return found

    def timeline(self, case_id: UUID) -> list[str]:
        """The event types of the case file's timeline, in its order."""
        case = self.case(case_id)
        assert case is not None, f"casefile holds no case {case_id}"
        return [entry["event_type"] for entry in case["timeline"]]

    def until(self, what: str, probe: Callable[[], T | None], within: float = 30) -> T:
        """Poll ``probe`` until it finds something (events travel by Kafka)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = probe()
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"never saw {what} within {within} s")

    def await_status(self, case_id: UUID, status: str, within: float = 30) -> dict[str, Any]:
        """Until the case file shows the case in ``status``."""

        def probe() -> dict[str, Any] | None:
            seen = self.case(case_id)
            return seen if seen is not None and seen["status"] == status else None

        return self.until(f"case {case_id} as {status} in the case file", probe, within)

    def await_event(self, case_id: UUID, event_type: str, within: float = 30) -> dict[str, Any]:
        """Until the case's timeline holds an event of ``event_type``; that entry."""

        def probe() -> dict[str, Any] | None:
            timeline = (self.case(case_id) or {}).get("timeline", [])
            return next((dict(e) for e in timeline if e["event_type"] == event_type), None)

        return self.until(f"{event_type} of case {case_id}", probe, within)

    def queued(self, case_id: UUID, part: str = "awaiting_dispatch") -> dict[str, Any]:
        """Until the dispatcher's queue lists the case (``part``: awaiting_dispatch or
        pending_decisions); its entry."""

        def probe() -> dict[str, Any] | None:
            queue = self.get("dispatch", "/dispatch/queue", self.auth(Role.DISPATCHER)) or {}
            return next((e for e in queue.get(part, []) if e["case_id"] == str(case_id)), None)

        return self.until(f"case {case_id} in the dispatch queue's {part}", probe)

    def task(self, case_id: UUID, department_id: str, state: str | None = None) -> dict[str, Any]:
        """Until the department's list shows the case's task (in ``state``); the task."""
        params = {"state": state} if state else {}

        def probe() -> dict[str, Any] | None:
            listed = self.get("disposal", "/tasks", self.staff(department_id), **params) or {}
            return next((t for t in listed.get("tasks", []) if t["case_id"] == str(case_id)), None)

        return self.until(f"the task of case {case_id} with {department_id}", probe)

    def supervisor_auth(self) -> dict[str, str]:
        """The grid's supervisor, a person of the district."""
        return self.auth(Role.FIELD_SUPERVISOR, id=self.supervisor, site=self.district)

    def check_task(self, case_id: UUID) -> dict[str, Any]:
        """Until the supervisor's check list shows the case pending."""

        def probe() -> dict[str, Any] | None:
            listed = (
                self.get(
                    "verification",
                    "/checks",
                    self.supervisor_auth(),
                    pending="true",
                )
                or {}
            )
            return next((c for c in listed.get("checks", []) if c["case_id"] == str(case_id)), None)

        return self.until(f"the check task of case {case_id}", probe)

    # --- the loop, step by step ------------------------------------------------------------
    def report(self, channel: str = "supervisor", category: str = "06001") -> UUID:
        role = {
            "supervisor": Role.FIELD_SUPERVISOR,
            "video": Role.ACCEPTANCE_OPERATOR,
            "public": Role.ACCEPTANCE_OPERATOR,
            "leader": Role.LEADER,
        }[channel]
        body: dict[str, Any] = {
            "channel": channel,
            "category_code": category,
            "description": "暴露垃圾",
            "location": self.grid_point,
            "attachments": [PHOTO],
        }
        if channel == "public":
            body["reporter"] = {"name": "张三", "phone": "13800000000"}
        answer = self.post(
            "intake", "/reports", body, self.auth(role, id=self.supervisor), expect=201
        )
        return UUID(answer["case_id"])

    def accept(self, case_id: UUID) -> None:
        self.await_status(case_id, "reported")
        self.post("casefile", f"/cases/{case_id}/accept", {}, self.auth(Role.ACCEPTANCE_OPERATOR))

    def verify(self, case_id: UUID, confirmed: bool = True) -> None:
        operator = self.auth(Role.ACCEPTANCE_OPERATOR)
        self.post("casefile", f"/cases/{case_id}/verification/request", {}, operator)
        self.post(
            "casefile",
            f"/cases/{case_id}/verification/report",
            {"confirmed": confirmed},
            self.supervisor_auth(),
        )

    def register(self, case_id: UUID, category: str = "06001", level: str = "district") -> str:
        answer = self.post(
            "casefile",
            f"/cases/{case_id}/register",
            {"category_code": category, "level": level},
            self.auth(Role.DUTY_CHIEF),
        )
        return str(answer["case_number"])

    def forward(self, case_id: UUID) -> None:
        """转市级, by the district duty chief."""
        reason = {"reason": "属市级专业部门处置"}
        self.post(
            "casefile", f"/cases/{case_id}/forward-to-city", reason, self.auth(Role.DUTY_CHIEF)
        )

    def pass_on(self, case_id: UUID) -> None:
        """批转, by the city duty chief, once the city's case file has the forwarded case."""
        self.await_status(case_id, "forwarded_to_city")
        self.post("casefile", f"/cases/{case_id}/forwarding/accept", {}, self.auth(Role.DUTY_CHIEF))

    def dispatch(self, case_id: UUID, department_id: str | None = None) -> str:
        self.queued(case_id)
        body = {"department_id": department_id} if department_id else {}
        answer = self.post(
            "dispatch", f"/cases/{case_id}/dispatch", body, self.auth(Role.DISPATCHER)
        )
        return str(answer["department_id"])

    def handle(self, case_id: UUID, department_id: str) -> None:
        """The department accepts the task and completes it with a photo."""
        self.task(case_id, department_id, "awaiting_acceptance")
        staff = self.staff(department_id)
        self.post("disposal", f"/cases/{case_id}/accept", {}, staff)
        self.post(
            "disposal",
            f"/cases/{case_id}/complete",
            {"description": "已清理", "evidence": [PHOTO]},
            staff,
        )

    def check(self, case_id: UUID, passed: bool = True) -> None:
        self.check_task(case_id)
        body: dict[str, Any] = {"passed": passed}
        if not passed:
            body["reason"] = "仍有垃圾"
        self.post("verification", f"/cases/{case_id}/check", body, self.supervisor_auth())

    def close(self, case_id: UUID) -> None:
        self.post("verification", f"/cases/{case_id}/close", {}, self.auth(Role.DUTY_CHIEF))

    def run_to_close(self, channel: str = "supervisor") -> UUID:
        case_id = self.report(channel)
        self.accept(case_id)
        if channel == "public":
            self.verify(case_id)
        self.register(case_id)
        department = self.dispatch(case_id)
        self.handle(case_id, department)
        self.check(case_id)
        self.close(case_id)
        return case_id

    # --- the services' own books -----------------------------------------------------------
    def disposal_time_passes(self, case_id: UUID) -> None:
        """The working hours of the case's disposal pass: its clock's marks move into the past."""
        self.sql(
            "dispatch",
            "UPDATE clocks SET warn_at = now() - interval '2 minutes', "
            "deadline = now() - interval '1 minute' WHERE case_id = %s AND step = 'disposal'",
            case_id,
        )

    def settle(self, within: float = 60) -> None:
        """Until nothing is applied anywhere for a second and a half: longer than a consumer
        batch waits (250 ms) or the tests' clock scans sleep (0.3 s), so what still travels
        shows in the count."""

        def applied() -> list[Any]:
            return [self.sql(stage, "SELECT count(*) FROM tracking") for stage in WORKFLOW_STAGES]

        def at_rest() -> bool | None:
            before = applied()
            time.sleep(1.5)
            return True if applied() == before else None

        self.until("the stages at rest", at_rest, within)

    def sql(self, stage: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
        schema = self.fleet.config.schema(stage)
        with psycopg.connect(self._postgres_url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []
