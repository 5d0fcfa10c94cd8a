"""The drill's steady load: the site's people file reports and take each case to its close
over HTTP, behaving as clients should, and every answer they get is kept.

A command keeps its ``Idempotency-Key`` until it is answered 2xx: after a 503 it waits what
``Retry-After`` says and sends again, after a failed connection (a service being restarted) it
sends again a moment later. A desk finds its next case the way people do, by looking at the
list or the case file until the case is there.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

import httpx

from cityloop_shared.contract.actors import Role

T = TypeVar("T")

PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
GRID_POINT = {"lon": 120.45, "lat": 36.13}
"""In grid 370212003001001 of the demo city, supervised by sv-370212-03."""
SUPERVISOR = "sv-370212-03"
POLL_SECONDS = 0.25
RECONNECT_SECONDS = 0.5
LIST_LIMIT = 500
"""A desk's list asked in one page: the backlog a broker outage piles up fits in it."""


class Credentials(Protocol):
    """Headers naming an actor of the drill's site."""

    def __call__(
        self, role: Role, id: str | None = None, *, department: str | None = None
    ) -> dict[str, str]: ...


class CaseStuck(Exception):
    """A case could not go on: a command was refused, or a step never came within patience."""


@dataclass(frozen=True, slots=True)
class Answer:
    service: str
    command: bool
    status: int
    json: bool
    retry_after: str | None
    excerpt: str

    @property
    def fault(self) -> str | None:
        """Why a client could not act on this answer; None when it could."""
        if not self.json:
            return f"{self.status} with a body that is not JSON"
        if self.status == 503 and not self.retry_after:
            return "503 without Retry-After"
        if self.status >= 500 and self.status != 503:
            return f"{self.status}"
        return None


@dataclass
class Tally:
    """Every answer the people got, and what the services accepted: thread-safe."""

    answers: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    """(service, command or query, status) → how many."""
    faults: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    accepted: dict[str, list[UUID]] = field(default_factory=dict)
    """Per service, the event id each command answered 2xx names, one per command."""
    unreachable: Counter[str] = field(default_factory=Counter)
    """Per service, requests that found no service listening or timed out."""
    reported: list[UUID] = field(default_factory=list)
    closed: list[UUID] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self, answer: Answer, path: str) -> None:
        kind = "command" if answer.command else "query"
        with self._lock:
            self.answers[(answer.service, kind, answer.status)] += 1
            if answer.fault is not None:
                self.faults.append(
                    f"{answer.service} {path}: {answer.fault}: {answer.excerpt}".strip()
                )

    def accept(self, service: str, event_id: UUID) -> None:
        with self._lock:
            self.accepted.setdefault(service, []).append(event_id)

    def refuse(self, refusal: str) -> None:
        with self._lock:
            self.refusals.append(refusal)

    def miss(self, service: str) -> None:
        with self._lock:
            self.unreachable[service] += 1

    def report(self, case_id: UUID) -> None:
        with self._lock:
            self.reported.append(case_id)

    def close(self, case_id: UUID) -> None:
        with self._lock:
            self.closed.append(case_id)

    def stick(self, why: str) -> None:
        with self._lock:
            self.stuck.append(why)

    def count(self, status: int) -> int:
        return sum(n for (_, _, found), n in self.answers.items() if found == status)


class Desk:
    """One person's session with every service of the site (a client of its own)."""

    def __init__(
        self,
        urls: Mapping[str, str],
        credentials: Credentials,
        tally: Tally,
        patience_s: float,
        abandoned: Callable[[], bool],
    ) -> None:
        self.credentials = credentials
        self.tally = tally
        self.patience_s = patience_s
        self.abandoned = abandoned
        self.http = {name: httpx.Client(base_url=url, timeout=30) for name, url in urls.items()}

    def close(self) -> None:
        for client in self.http.values():
            client.close()

    # --- HTTP, as a client on a bad network ----------------------------------------------
    def command(
        self, service: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        """Sent until answered 2xx, with one idempotency key; its answer."""
        headers = {**headers, "Idempotency-Key": uuid4().hex}
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline and not self.abandoned():
            response = self._send(service, "POST", path, json=body, headers=headers)
            if response is None:
                continue
            answer = self._keep(service, path, response, command=True)
            if response.is_success:
                found: dict[str, Any] = response.json()
                self.tally.accept(service, UUID(found["event_id"]))
                return found
            if response.status_code == 503:
                time.sleep(_retry_after(response))
            elif answer.fault is None:
                refusal = f"{service} {path}: {response.status_code} {answer.excerpt}"
                self.tally.refuse(refusal)
                raise CaseStuck(refusal)
            else:
                time.sleep(RECONNECT_SECONDS)
        raise CaseStuck(f"{service} {path}: not accepted within {self.patience_s:.0f} s")

    def query(self, service: str, path: str, headers: dict[str, str], **params: Any) -> Any:
        """The answer's body, or None when there is none to read yet (404, 503, no service)."""
        response = self._send(service, "GET", path, headers=headers, params=params)
        if response is None:
            return None
        self._keep(service, path, response, command=False)
        if response.is_success:
            return response.json()
        if response.status_code == 503:
            time.sleep(_retry_after(response))
        return None

    def until(self, what: str, probe: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline and not self.abandoned():
            found = probe()
            if found is not None:
                return found
            time.sleep(POLL_SECONDS)
        raise CaseStuck(f"never saw {what} within {self.patience_s:.0f} s")

    def _send(self, service: str, method: str, path: str, **options: Any) -> httpx.Response | None:
        try:
            return self.http[service].request(method, path, **options)
        except httpx.TransportError:
            self.tally.miss(service)
            time.sleep(RECONNECT_SECONDS)
            return None

    def _keep(self, service: str, path: str, response: httpx.Response, *, command: bool) -> Answer:
        answer = Answer(
            service=service,
            command=command,
            status=response.status_code,
            json=_is_json(response),
            retry_after=response.headers.get("Retry-After"),
            excerpt=response.text[:200],
        )
        self.tally.answered(answer, path)
        return answer

    # --- the loop, step by step (a supervisor's report of a district case) -----------------
    def report(self) -> UUID:
        body = {
            "channel": "supervisor",
            "category_code": "06001",
            "description": "暴露垃圾",
            "location": GRID_POINT,
            "attachments": [PHOTO],
        }
        supervisor = self.credentials(Role.FIELD_SUPERVISOR, SUPERVISOR)
        return UUID(self.command("intake", "/reports", body, supervisor)["case_id"])

    def glance_at_counters(self) -> None:
        """A leader's look at this month's production counters (生产统计), when the site runs
        evaluation: a query of a service that only reads."""
        if "evaluation" in self.http:
            leader = self.credentials(Role.LEADER)
            self.query("evaluation", "/evaluation/counters", leader, period=f"{date.today():%Y-%m}")

    def take_to_close(self, case_id: UUID) -> None:
        chief = self.credentials(Role.DUTY_CHIEF)
        supervisor = self.credentials(Role.FIELD_SUPERVISOR, SUPERVISOR)
        dispatcher = self.credentials(Role.DISPATCHER)
        case = f"/cases/{case_id}"

        self.until(f"case {case_id} reported in the case file", lambda: self._in_file(case_id))
        self.command("casefile", f"{case}/accept", {}, self.credentials(Role.ACCEPTANCE_OPERATOR))
        registration = {"category_code": "06001", "level": "district"}
        self.command("casefile", f"{case}/register", registration, chief)

        def queued() -> bool | None:
            found = self.query("dispatch", "/dispatch/queue", dispatcher) or {}
            return _lists(found.get("awaiting_dispatch", []), case_id)

        self.until(f"case {case_id} in the dispatch queue", queued)
        department = self.command("dispatch", f"{case}/dispatch", {}, dispatcher)["department_id"]
        staff = self.credentials(Role.DEPARTMENT, f"{department}-staff", department=department)

        def task() -> bool | None:
            found = self.query(
                "disposal", "/tasks", staff, state="awaiting_acceptance", limit=LIST_LIMIT
            )
            return _lists((found or {}).get("tasks", []), case_id)

        self.until(f"the task of case {case_id}", task)
        self.command("disposal", f"{case}/accept", {}, staff)
        done = {"description": "已清理", "evidence": [PHOTO]}
        self.command("disposal", f"{case}/complete", done, staff)

        def check() -> bool | None:
            found = self.query(
                "verification", "/checks", supervisor, pending=True, limit=LIST_LIMIT
            )
            return _lists((found or {}).get("checks", []), case_id)

        self.until(f"the check of case {case_id}", check)
        self.command("verification", f"{case}/check", {"passed": True}, supervisor)
        self.command("verification", f"{case}/close", {}, chief)

    def _in_file(self, case_id: UUID) -> bool | None:
        found = self.query("casefile", f"/cases/{case_id}", self.credentials(Role.DUTY_CHIEF))
        return True if found is not None and found.get("status") == "reported" else None


def _lists(entries: list[dict[str, Any]], case_id: UUID) -> bool | None:
    return True if any(entry.get("case_id") == str(case_id) for entry in entries) else None


def _is_json(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", RECONNECT_SECONDS))
    except ValueError:
        return RECONNECT_SECONDS


class Load:
    """A reporter filing a report every ``report_every_s`` and ``desks`` people taking the
    reported cases to their close, each on a thread of its own, until :meth:`finish`."""

    def __init__(
        self,
        urls: Mapping[str, str],
        credentials: Credentials,
        *,
        report_every_s: float,
        desks: int,
        patience_s: float,
    ) -> None:
        self.tally = Tally()
        self._urls = urls
        self._credentials = credentials
        self._every = report_every_s
        self._patience = patience_s
        self._reporting = threading.Event()
        self._abandoned = threading.Event()
        self._cases: queue.Queue[UUID] = queue.Queue()
        # Daemons: a drill cut short by an error does not keep its process alive.
        self._reporter = threading.Thread(target=self._file_reports, name="reporter", daemon=True)
        self._threads = [self._reporter]
        self._threads += [
            threading.Thread(target=self._take_cases, name=f"desk-{n}", daemon=True)
            for n in range(desks)
        ]

    def start(self) -> None:
        self._reporting.set()
        for thread in self._threads:
            thread.start()

    def finish(self, within: float) -> None:
        """Stop filing reports; wait until every reported case has been taken to its end."""
        self._reporting.clear()
        deadline = time.monotonic() + within
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            self.abandon()
            raise TimeoutError(f"the desks did not finish their cases within {within:.0f} s")

    def abandon(self) -> None:
        """Stop at once: whatever is under way gives up."""
        self._reporting.clear()
        self._abandoned.set()

    def _desk(self) -> Desk:
        return Desk(
            self._urls, self._credentials, self.tally, self._patience, self._abandoned.is_set
        )

    def _file_reports(self) -> None:
        desk = self._desk()
        try:
            while self._reporting.is_set():
                began = time.monotonic()
                try:
                    case_id = desk.report()
                except CaseStuck as stuck:
                    self.tally.stick(str(stuck))
                else:
                    self.tally.report(case_id)
                    self._cases.put(case_id)
                desk.glance_at_counters()
                time.sleep(max(0.0, self._every - (time.monotonic() - began)))
        finally:
            desk.close()

    def _take_cases(self) -> None:
        desk = self._desk()
        try:
            # A report still being answered when filing stops is taken too.
            while not self._abandoned.is_set() and (
                self._reporter.is_alive() or not self._cases.empty()
            ):
                try:
                    case_id = self._cases.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                try:
                    desk.take_to_close(case_id)
                except CaseStuck as stuck:
                    self.tally.stick(str(stuck))
                else:
                    self.tally.close(case_id)
        finally:
            desk.close()
