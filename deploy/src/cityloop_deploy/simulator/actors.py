"""The people who take one case from report to its end, each after a realistic delay.

A delay is drawn from the step's range of simulated minutes (triangular: usually near the
mode, now and then long) from the case's own random source, and compressed by the clock.
Before acting, a person waits until the case shows where they work: in the case file, on
the dispatcher's queue, on the department's list, on the supervisor's checks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from cityloop_deploy.simulator.desks import Desks, StepFailed, Stopped, Tally
from cityloop_deploy.simulator.plan import Detour, PlannedCase, Source, reference
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.values import ReportChannel

DELAYS: Mapping[str, tuple[float, float, float]] = {
    "accept": (1, 5, 20),  # the acceptance operator takes the report in
    "verify": (20, 45, 120),  # the supervisor goes to the site to confirm a public report
    "cancel": (5, 15, 60),
    "register": (2, 8, 30),  # the duty chief registers it (立案)
    "forward": (5, 15, 45),  # 转市级 at the district, then 批转 at the city
    "dispatch": (3, 10, 40),
    "take": (10, 30, 120),  # the department signs for the task (签收)
    "decide": (10, 30, 90),  # the dispatcher decides a department's request
    "suspended": (120, 360, 1440),  # the work waits on something else
    "work": (60, 180, 600),
    "check": (30, 90, 240),  # the supervisor goes back to check the work (核查)
    "close": (5, 15, 60),
}
"""Simulated minutes before each step: (shortest, most usual, longest)."""
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
REPORTER_ROLES = {
    ReportChannel.SUPERVISOR: Role.FIELD_SUPERVISOR,
    ReportChannel.PUBLIC: Role.ACCEPTANCE_OPERATOR,
    ReportChannel.VIDEO: Role.ACCEPTANCE_OPERATOR,
    ReportChannel.LEADER: Role.LEADER,
}
RUN = uuid4().hex[:8]
"""Makes the channels' own ids of this run's public reports unique across runs."""


class Story:
    """One planned case as its people live it; where it stands is kept for the summary."""

    def __init__(
        self, case: PlannedCase, city: str | None, desks: Desks, clock: Clock, tally: Tally
    ) -> None:
        self.case = case
        self.city = city
        self.desks = desks
        self.clock = clock
        self.tally = tally
        self.rng = random.Random(case.seed)
        self.case_id: UUID | None = None
        self.pending = "report"
        """The step the case waits on, or its end: closed, cancelled."""
        self.failure: str | None = None
        self.people = desks.people

    async def live(self) -> None:
        try:
            await self._run()
        except Stopped:
            pass
        except StepFailed as failed:
            self.failure = f"case {self.case.number} at {self.pending}: {failed}"
            self.tally.errors.append(self.failure)

    async def _run(self) -> None:
        case, district = self.case, self.case.district
        self.case_id = await self._report()
        self.tally.counts["reported"] += 1
        path = f"/cases/{self.case_id}"
        await self._file_shows(district, "reported")
        await self._after("accept", "acceptance")
        operator = self.people.headers(Role.ACCEPTANCE_OPERATOR, district)
        chief = self.people.headers(Role.DUTY_CHIEF, district)
        await self.desks.command(district, "casefile", f"{path}/accept", {}, operator)
        if case.source.channel is ReportChannel.PUBLIC:
            await self._verify(operator)
            if Detour.CANCELLATION in case.detours:
                await self._after("cancel", "cancellation")
                reason = {"reason": "现场无此问题"}
                await self.desks.command(district, "casefile", f"{path}/cancel", reason, chief)
                self.tally.detours[Detour.CANCELLATION] += 1
                self.pending = "cancelled"
                return
        await self._after("register", "registration")
        at_city = Detour.CITY in case.detours
        level = {"category_code": case.category_code, "level": "city" if at_city else "district"}
        await self.desks.command(district, "casefile", f"{path}/register", level, chief)
        self.tally.counts["registered"] += 1
        site = district
        if at_city:
            assert self.city is not None, "a plan without a city has no city problems"
            site = self.city
            await self._after("forward", "forwarding to the city")
            reason = {"reason": "属市级专业部门处置"}
            await self.desks.command(district, "casefile", f"{path}/forward-to-city", reason, chief)
            self.tally.detours[Detour.CITY] += 1
            await self._file_shows(site, "forwarded_to_city")
            await self._after("forward", "passing on at the city")
            city_chief = self.people.headers(Role.DUTY_CHIEF, site)
            await self.desks.command(site, "casefile", f"{path}/forwarding/accept", {}, city_chief)
        await self._disposal(site)
        await self._after("close", "close")
        chief_there = self.people.headers(Role.DUTY_CHIEF, site)
        await self.desks.command(site, "verification", f"{path}/close", {}, chief_there)
        self.tally.counts["closed"] += 1
        self.pending = "closed"

    async def _report(self) -> UUID:
        case = self.case
        channel = case.source.channel
        body: dict[str, Any] = {
            "channel": channel.value,
            "category_code": case.category_code,
            "description": case.description,
            "location": {"lon": case.place.lon, "lat": case.place.lat},
            "attachments": [PHOTO],
        }
        if channel is ReportChannel.PUBLIC:
            body["reporter"] = {"name": "市民", "phone": "13800000000"}
            body["external_id"] = f"{case.source.value}-{RUN}-{case.number}"
        reporter = case.place.supervisor_id if case.source is Source.SUPERVISOR else None
        headers = self.people.headers(REPORTER_ROLES[channel], case.district, reporter)
        answer = await self.desks.command(case.district, "intake", "/reports", body, headers)
        return UUID(answer["case_id"])

    async def _verify(self, operator: dict[str, str]) -> None:
        """核实: the supervisor of the grid confirms the public's report on site, or not."""
        district, path = self.case.district, f"/cases/{self.case_id}"
        await self.desks.command(district, "casefile", f"{path}/verification/request", {}, operator)
        await self._after("verify", "verification")
        confirmed = {"confirmed": Detour.CANCELLATION not in self.case.detours}
        supervisor = self._supervisor()
        await self.desks.command(
            district, "casefile", f"{path}/verification/report", confirmed, supervisor
        )

    async def _disposal(self, site: str) -> None:
        """From dispatch to a passed check, at the site that dispatches the case."""
        case, path = self.case, f"/cases/{self.case_id}"
        dispatcher = self.people.headers(Role.DISPATCHER, site)
        await self._queued(site, "awaiting_dispatch")
        await self._after("dispatch", "dispatch")
        answer = await self.desks.command(site, "dispatch", f"{path}/dispatch", {}, dispatcher)
        department = str(answer["department_id"])
        self.tally.counts["dispatched"] += 1
        await self._task(site, department, "awaiting_acceptance", "the department signing")
        await self._after("take", "the department signing")
        if Detour.RETURN in case.detours:
            department = await self._return(site, department)
            await self._task(site, department, "awaiting_acceptance", "the department signing")
            await self._after("take", "the department signing")
        staff = self._staff(site, department)
        await self.desks.command(site, "disposal", f"{path}/accept", {}, staff)
        if Detour.EXTENSION in case.detours:
            await self._extension(site, department)
        if Detour.SUSPENSION in case.detours:
            await self._suspension(site, department)
        for attempt in range(2):
            await self._after("work", "disposal")
            done = {"description": "已处置", "evidence": [PHOTO]}
            await self.desks.command(site, "disposal", f"{path}/complete", done, staff)
            await self._checks(site)
            await self._after("check", "the supervisor's check")
            passed = attempt > 0 or Detour.REWORK not in case.detours
            check: dict[str, Any] = {"passed": passed}
            if not passed:
                check["reason"] = "问题仍在"
            await self.desks.command(
                site, "verification", f"{path}/check", check, self._supervisor()
            )
            if passed:
                return
            self.tally.detours[Detour.REWORK] += 1
            await self._task(site, department, "awaiting_acceptance", "rework")
            await self._after("take", "rework")
            await self.desks.command(site, "disposal", f"{path}/accept", {}, staff)

    async def _return(self, site: str, department: str) -> str:
        """回退 and redispatch to another department of the site; the new department."""
        path = f"/cases/{self.case_id}"
        reason = {"reason": "非本单位职责"}
        staff = self._staff(site, department)
        await self.desks.command(site, "disposal", f"{path}/return-request", reason, staff)
        await self._decision(site, "return")
        dispatcher = self.people.headers(Role.DISPATCHER, site)
        await self.desks.command(site, "dispatch", f"{path}/return/approve", reason, dispatcher)
        others = sorted(d.id for d in reference().departments.at_site(site) if d.id != department)
        other = self.rng.choice(others)
        body = {"department_id": other, "reason": "改派"}
        await self.desks.command(site, "dispatch", f"{path}/redispatch", body, dispatcher)
        self.tally.detours[Detour.RETURN] += 1
        return other

    async def _extension(self, site: str, department: str) -> None:
        path = f"/cases/{self.case_id}"
        task = await self._task(site, department, "in_hand", "an extension")
        await self._after("work", "an extension")
        proposed = datetime.fromisoformat(task["deadline"]) + timedelta(days=2)
        body = {"proposed_deadline": proposed.isoformat(), "reason": "需订购配件"}
        staff = self._staff(site, department)
        await self.desks.command(site, "disposal", f"{path}/extension-request", body, staff)
        await self._decision(site, "extension")
        dispatcher = self.people.headers(Role.DISPATCHER, site)
        decided = {"approved": True}
        await self.desks.command(site, "dispatch", f"{path}/extension/decide", decided, dispatcher)
        await self._task(site, department, "in_hand", "an extension", settled=True)
        self.tally.detours[Detour.EXTENSION] += 1

    async def _suspension(self, site: str, department: str) -> None:
        path = f"/cases/{self.case_id}"
        await self._after("work", "a suspension")
        reason = {"reason": "需列入年度工程"}
        staff = self._staff(site, department)
        await self.desks.command(site, "disposal", f"{path}/suspension-request", reason, staff)
        await self._decision(site, "suspension")
        dispatcher = self.people.headers(Role.DISPATCHER, site)
        approve = {"reason": "同意挂账"}
        await self.desks.command(
            site, "dispatch", f"{path}/suspension/approve", approve, dispatcher
        )
        await self._task(site, department, "suspended", "the resumption")
        await self._after("suspended", "the resumption")
        await self.desks.command(site, "dispatch", f"{path}/resume", {}, dispatcher)
        await self._task(site, department, "in_hand", "the resumption")
        self.tally.detours[Detour.SUSPENSION] += 1

    # --- waiting -------------------------------------------------------------------------
    async def _after(self, step: str, pending: str) -> None:
        """The person's delay before ``step``, the case waiting on ``pending`` meanwhile."""
        self.pending = pending
        low, mode, high = DELAYS[step]
        await self.desks.pause(self.clock.real_seconds(self.rng.triangular(low, high, mode)))

    async def _file_shows(self, site: str, status: str) -> None:
        chief = self.people.headers(Role.DUTY_CHIEF, site)

        async def probe() -> bool | None:
            found = await self.desks.query(site, "casefile", f"/cases/{self.case_id}", chief)
            return True if found is not None and found["status"] == status else None

        self.pending = f"the case file at {site} showing it {status}"
        await self.desks.until(self.pending, probe)

    async def _queued(self, site: str, part: str, kind: str | None = None) -> None:
        """Until the dispatcher's queue lists the case in ``part`` (of ``kind``)."""
        dispatcher = self.people.headers(Role.DISPATCHER, site)

        async def look() -> Any:
            return await self.desks.query(site, "dispatch", "/dispatch/queue", dispatcher)

        board = self.desks.board((site, "dispatch queue"), look)

        async def probe() -> bool | None:
            entries = ((await board.entries()) or {}).get(part, [])
            listed = any(e["case_id"] == str(self.case_id) for e in entries if _of(e, kind))
            return True if listed else None

        await self.desks.until(f"case {self.case_id} in {site}'s dispatch queue", probe)

    async def _decision(self, site: str, kind: str) -> None:
        self.pending = f"the dispatcher's decision on a {kind}"
        await self._queued(site, "pending_decisions", kind)

    async def _task(
        self, site: str, department: str, state: str, pending: str, settled: bool = False
    ) -> dict[str, Any]:
        """Until the department's list shows the task in ``state`` (with no request pending,
        if ``settled``); the task."""
        self.pending = pending
        staff = self._staff(site, department)

        async def look() -> Any:
            return await self.desks.query(site, "disposal", "/tasks", staff, state=state, limit=500)

        board = self.desks.board((site, department, state), look)

        async def probe() -> dict[str, Any] | None:
            tasks = ((await board.entries()) or {}).get("tasks", [])
            mine = (t for t in tasks if t["case_id"] == str(self.case_id))
            fit = (t for t in mine if not settled or t["pending_request"] is None)
            return next((dict(t) for t in fit), None)

        return await self.desks.until(f"the task of {self.case_id} {state}", probe)

    async def _checks(self, site: str) -> None:
        """Until the supervisor's check list shows the case (at the city, for its district's
        supervisor the city entrusts)."""
        self.pending = "the supervisor's check"
        supervisor = self._supervisor()

        async def look() -> Any:
            return await self.desks.query(
                site, "verification", "/checks", supervisor, pending="true", limit=500
            )

        board = self.desks.board((site, self.case.place.supervisor_id, "checks"), look)

        async def probe() -> bool | None:
            checks = ((await board.entries()) or {}).get("checks", [])
            return True if any(c["case_id"] == str(self.case_id) for c in checks) else None

        await self.desks.until(f"the check of {self.case_id}", probe)

    def _supervisor(self) -> dict[str, str]:
        supervisor = self.case.place.supervisor_id
        return self.people.headers(Role.FIELD_SUPERVISOR, self.case.district, supervisor)

    def _staff(self, site: str, department: str) -> dict[str, str]:
        return self.people.headers(Role.DEPARTMENT, site, f"{department}-staff", department)


def _of(entry: dict[str, Any], kind: str | None) -> bool:
    return kind is None or entry.get("kind") == kind
