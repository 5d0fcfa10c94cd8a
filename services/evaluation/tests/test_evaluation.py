"""Evaluation of a fixed event log on the real broker and database: league tables whose every
figure is worked out by hand below, their CSV and chart, the cases behind an indicator, the
production counters, and a rebuild from the log that gives the same numbers as the live
service.

The log (崂山区 370212, March 2026; deadlines as the stages wrote them):

====  =======  ==========================================================================
case  channel  what happened
====  =======  ==========================================================================
A     sup.     registered 10 Mar 08:50; dispatched on time by dispatcher-1 to 370212-urban;
               handled on time; closed on time
B     public   registered 09:00; dispatched late by dispatcher-1 to 370212-urban; handled
               late; closed 12 Mar, after its overall limit; call-back 5/5
C     sup.     registered 11 Mar 09:00; dispatcher-2 sends it to 370212-sanitation, which
               gives it back (a wrong dispatch); re-dispatched on time to 370212-urban;
               handled on time; closed on time
D     sup.     registered 11 Mar 10:00, voided 10:20
E     sup.     registered 12 Mar 09:00; dispatched on time by dispatcher-1 to
               370212-sanitation; never handled; past its overall limit on 13 Mar
F     sup.     self-handled (自处理) on 12 Mar
G     sup.     registered in April: outside the period
====  =======  ==========================================================================
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete

from cityloop_deploy.fleet import delete_namespace_topics
from cityloop_deploy.site_fixtures import eventually, topic_records
from cityloop_evaluation.config import EvaluationConfig, Subject
from cityloop_evaluation.rejudge import rejudge
from cityloop_evaluation.store import evaluated_cases, step_rounds
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.analytics import for_analysts, personal_paths
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.deadlines import LIFTED_FROM_V1
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.topics import analytics_topic, event_topic
from cityloop_shared.contract.values import ClockStep, ReportChannel
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.deadlines import step_deadline
from cityloop_shared.testing.stories import Story

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")
URBAN, SANITATION = "370212-urban", "370212-sanitation"
SV = "sv-370212-01"
CONFIG = EvaluationConfig(minimum_volume=dict.fromkeys(Subject, 1))
Auth = Callable[..., dict[str, str]]
Publish = Callable[[list[CaseEvent]], Awaitable[None]]
Served = tuple[httpx.AsyncClient, TimelineFollower]
Evaluation = Callable[..., contextlib.AbstractAsyncContextManager[Served]]


def at(day: int, clock: str, month: int = 3) -> datetime:
    return datetime.fromisoformat(f"2026-{month:02d}-{day:02d}T{clock}").replace(tzinfo=SH)


def closed_after_check(story: Story, done: datetime, closed: datetime, department: str) -> Story:
    return (
        story.check_requested(done, supervisor=SV, due=at(done.day, "17:30"))
        .check_passed(done, supervisor=SV)
        .closed(closed, by="chief-1")
    )


def the_log() -> dict[str, Story]:
    a = (
        Story(sequence=1)
        .reported(at(10, "08:40"), by=SV)
        .accepted(at(10, "08:45"), by="op-1")
        .registered(
            at(10, "08:50"), by="chief-1", dispatch_due=at(10, "09:20"), overall_due=at(11, "08:50")
        )
        .handled(
            department=URBAN, dispatched=at(10, "09:00"), due=at(10, "11:00"), done=at(10, "10:00")
        )
    )
    closed_after_check(a, at(10, "10:00"), at(10, "14:30"), URBAN)
    b = (
        Story(sequence=2, grid="370212001002001")
        .reported(at(10, "08:50"), by="public-1", channel=ReportChannel.PUBLIC)
        .accepted(at(10, "08:55"), by="op-1")
        .registered(
            at(10, "09:00"), by="chief-1", dispatch_due=at(10, "09:30"), overall_due=at(11, "09:00")
        )
        .handled(
            department=URBAN, dispatched=at(10, "09:40"), due=at(10, "11:40"), done=at(10, "14:00")
        )
    )
    closed_after_check(b, at(10, "14:00"), at(12, "10:00"), URBAN).satisfaction(
        at(12, "11:00"), score=5
    )
    c = (
        Story(sequence=3, grid="370212002001001")
        .reported(at(11, "08:40"), by="sv-370212-02")
        .accepted(at(11, "08:50"), by="op-1")
        .registered(
            at(11, "09:00"), by="chief-2", dispatch_due=at(11, "09:30"), overall_due=at(12, "09:00")
        )
        .dispatched(at(11, "09:10"), by="dispatcher-2", department=SANITATION, due=at(11, "11:10"))
        .return_asked(at(11, "09:20"), department=SANITATION)
        .return_approved(at(11, "09:30"), by="dispatcher-2", dispatch_due=at(11, "10:00"))
        .redispatched(
            at(11, "09:50"),
            by="dispatcher-2",
            department=URBAN,
            previous=SANITATION,
            due=at(11, "11:50"),
        )
        .taken(at(11, "10:00"), department=URBAN)
        .completed(at(11, "11:00"), department=URBAN)
        .feedback(at(11, "11:00"), department=URBAN)
    )
    closed_after_check(c, at(11, "11:00"), at(11, "14:00"), URBAN)
    d = (
        Story(sequence=4)
        .reported(at(11, "09:40"), by=SV)
        .accepted(at(11, "09:50"), by="op-1")
        .registered(
            at(11, "10:00"), by="chief-1", dispatch_due=at(11, "10:30"), overall_due=at(12, "10:00")
        )
        .voided(at(11, "10:20"), by="chief-1")
    )
    e = (
        Story(sequence=5)
        .reported(at(12, "08:40"), by=SV)
        .accepted(at(12, "08:50"), by="op-1")
        .registered(
            at(12, "09:00"), by="chief-2", dispatch_due=at(12, "09:30"), overall_due=at(13, "09:00")
        )
        .dispatched(at(12, "09:20"), by="dispatcher-1", department=SANITATION, due=at(12, "11:20"))
        .taken(at(12, "09:30"), department=SANITATION)
    )
    f = Story(sequence=6).self_handled(at(12, "10:00"), by=SV)
    g = (
        Story(sequence=7)
        .reported(at(1, "08:40", month=4), by=SV)
        .accepted(at(1, "08:50", month=4), by="op-1")
        .registered(at(1, "09:00", month=4), by="chief-1", dispatch_due=at(1, "09:30", month=4))
    )
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g}


def events(stories: dict[str, Story]) -> list[CaseEvent]:
    return [event for story in stories.values() for event in story.events]


@contextlib.asynccontextmanager
async def the_log_evaluated(
    settings: ServiceSettings, publish: Publish, evaluation: Evaluation
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Story]]]:
    """The service, once it has read the whole log."""
    stories = the_log()
    log = events(stories)
    await publish(log)
    async with evaluation(settings, CONFIG) as served:
        await read_everything(served, len(log))
        yield served[0], stories


async def table(client: httpx.AsyncClient, auth: Auth, subject: str, **query: str) -> Any:
    answer = await client.get(
        f"/evaluation/{subject}", params={"period": "2026-03", **query}, headers=auth(Role.LEADER)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def read_everything(served: Served, events: int) -> None:
    _, follower = served

    async def applied() -> int:
        return follower.applied

    await eventually(applied, lambda n: n >= events, within=60)


def rows_by_id(found: Any) -> dict[str, Any]:
    return {row["id"]: row for row in found["rows"]}


async def test_league_tables_of_a_fixed_log_are_the_figures_worked_out_by_hand(
    service_settings: ServiceSettings, publish: Publish, auth: Auth, evaluation: Evaluation
) -> None:
    async with the_log_evaluated(service_settings, publish, evaluation) as (client, stories):
        districts = await table(client, auth, "district")
        assert districts["config"]["fingerprint"] == CONFIG.fingerprint()
        assert districts["config"]["minimum_volume"] == 1
        (laoshan,) = districts["rows"]
        # Registered A B C D E; B by the public; D voided; due to close A B C E; closed A B C,
        # on time A and C.
        assert {k: v for k, v in laoshan["counts"].items() if k.startswith("cases.")} == {
            "cases.registered": 5,
            "cases.public_confirmed": 1,
            "cases.voided": 1,
            "cases.due_to_close": 4,
            "cases.closed": 3,
            "cases.closed_on_time": 2,
        }
        # 1/5 by the public: 80; 5 cases on 9 grids (< 1 a grid): 100; 3/4: 75; 2/4: 50.
        assert laoshan["score"] == pytest.approx((10 * 80 + 20 * 100 + 30 * 75 + 40 * 50) / 100)
        assert (laoshan["rank"], laoshan["grade"]) == (1, "合格")

        departments = rows_by_id(await table(client, auth, "department"))
        urban, sanitation = departments[URBAN], departments[SANITATION]
        # Urban: A on time, B late, C's second round on time; all three closed; B's caller
        # satisfied. Sanitation: C given back (not its round), E overdue and not done.
        assert urban["indicators"]["handled_on_time_rate"] == {
            "value": pytest.approx(2 / 3),
            "numerator": 2,
            "denominator": 3,
            "score": pytest.approx(200 / 3),
        }
        assert urban["indicators"]["closing_rate"]["value"] == 1
        assert urban["indicators"]["rework_rate"]["value"] == 0
        assert urban["external"] == 100
        assert urban["score"] == pytest.approx((40 * 200 / 3 + 30 * 100 + 30 * 100) / 100)
        assert (urban["rank"], urban["grade"], urban["name"]) == (1, "良好", "崂山区城市管理局")
        assert sanitation["indicators"]["handled_on_time_rate"]["denominator"] == 1
        assert sanitation["score"] == 0
        assert (sanitation["rank"], sanitation["grade"]) == (2, "不合格")

        dispatchers = rows_by_id(await table(client, auth, "dispatcher"))
        # dispatcher-1: A on time, B late, E on time. dispatcher-2: C to sanitation on time but
        # wrong, C again on time.
        assert dispatchers["dispatcher-1"]["score"] == pytest.approx(20 * 1 + 40 * 2 / 3 + 40 * 1)
        assert dispatchers["dispatcher-2"]["score"] == pytest.approx(20 * 2 / 3 + 40 * 1 + 40 * 0.5)
        assert [r["id"] for r in (await table(client, auth, "dispatcher"))["rows"]] == [
            "dispatcher-1",
            "dispatcher-2",
        ]

        supervisors = rows_by_id(await table(client, auth, "supervisor"))
        # sv-370212-01 reported A D E F (F self-handled): all valid; its grids had B by the
        # public out of A B D E registered there.
        mine = supervisors[SV]
        assert mine["indicators"]["valid_report_rate"]["value"] == 1
        assert (
            mine["indicators"]["missed_report_rate"]["numerator"],
            mine["indicators"]["missed_report_rate"]["denominator"],
        ) == (1, 4)
        assert mine["counts"]["reports.self_handled"] == 1

        cases = await client.get(
            f"/evaluation/department/{URBAN}/cases",
            params={"period": "2026-03", "indicator": "handled_on_time_rate"},
            headers=auth(Role.LEADER),
        )
        assert cases.status_code == 200
        drilled = {row["case_id"]: (row["round"], row["on_time"]) for row in cases.json()["rows"]}
        case_of = {str(story.case_id): name for name, story in stories.items()}
        assert {case_of[case_id]: found for case_id, found in drilled.items()} == {
            "A": (1, True),
            "B": (1, False),
            "C": (2, True),
        }

        counters = await client.get(
            "/evaluation/counters",
            params={"period": "2026-03", "by": "channel"},
            headers=auth(Role.LEADER),
        )
        by_channel = {row["key"]: row for row in counters.json()["rows"]}
        # Reported in March: A C D E (+ F self-handled) by supervisors, B by the public.
        assert (by_channel["supervisor"]["reported"], by_channel["supervisor"]["self_handled"]) == (
            4,
            1,
        )
        assert by_channel["supervisor"]["handled_late"] == 0
        assert (by_channel["public"]["handled_late"], by_channel["public"]["closed_late"]) == (1, 1)
        assert by_channel["supervisor"]["returned"] == 1


async def test_exports_charts_and_refusals(
    service_settings: ServiceSettings, publish: Publish, auth: Auth, evaluation: Evaluation
) -> None:
    async with the_log_evaluated(service_settings, publish, evaluation) as (client, _):
        leader = auth(Role.LEADER)
        exported = await client.get(
            "/evaluation/department/export.csv", params={"period": "2026-03"}, headers=leader
        )
        assert exported.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(exported.text)))
        assert [line["id"] for line in lines] == [URBAN, SANITATION]
        assert (
            lines[0]["handled_on_time_rate_numerator"],
            lines[0]["handled_on_time_rate_denominator"],
        ) == ("2", "3")
        assert lines[0]["config"] == CONFIG.fingerprint()

        chart = await client.get(
            "/evaluation/department/chart.svg", params={"period": "2026-03"}, headers=leader
        )
        assert chart.headers["content-type"] == "image/svg+xml"
        svg = ET.fromstring(chart.text)
        texts = "".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert "崂山区城市管理局" in texts
        assert "良好" in texts

        trend = await client.get(
            f"/evaluation/department/{URBAN}/trend", params={"period": "2026-Q1"}, headers=leader
        )
        months = trend.json()["months"]
        assert [m["month"] for m in months] == ["2026-01", "2026-02", "2026-03"]
        assert [m["score"] is None for m in months] == [True, True, False]
        trend_svg = await client.get(
            f"/evaluation/department/{URBAN}/trend.svg",
            params={"period": "2026-Q1"},
            headers=leader,
        )
        assert trend_svg.status_code == 200
        assert trend_svg.text.startswith("<svg")

        contract = (await client.get("/asyncapi.json")).json()
        assert contract["asyncapi"] == "3.0.0"
        assert "publishEvaluationEvents" not in contract["operations"]  # it emits nothing
        assert "case_registered" in contract["components"]["messages"]

        wrong = await client.get(
            "/evaluation/district", params={"period": "2026-13"}, headers=leader
        )
        assert wrong.status_code == 422
        assert "period" in wrong.text
        refused = await client.get(
            "/evaluation/district",
            params={"period": "2026-03"},
            headers=auth(Role.DEPARTMENT, department_id=URBAN),
        )
        assert refused.status_code == 403
        unknown = await client.get(
            f"/evaluation/department/{URBAN}/cases",
            params={"period": "2026-03", "indicator": "speed"},
            headers=leader,
        )
        assert unknown.status_code == 404
        assert "handled_on_time_rate" in unknown.text


async def test_a_department_and_a_supervisor_read_only_their_own_lines(
    service_settings: ServiceSettings, publish: Publish, auth: Auth, evaluation: Evaluation
) -> None:
    """Each with the rank it holds among all, not a table of one."""
    period = {"period": "2026-03"}
    async with the_log_evaluated(service_settings, publish, evaluation) as (client, _):
        everyone = rows_by_id(await table(client, auth, "department"))
        supervisors = rows_by_id(await table(client, auth, "supervisor"))

        async def read(who: dict[str, str], path: str, **query: str) -> httpx.Response:
            return await client.get(path, params={**period, **query}, headers=who)

        sanitation = auth(Role.DEPARTMENT, department_id=SANITATION)
        own = (await read(sanitation, "/evaluation/department")).json()["rows"]
        assert own == [everyone[SANITATION]]
        exported = await read(sanitation, "/evaluation/department/export.csv")
        assert [line["id"] for line in csv.DictReader(io.StringIO(exported.text))] == [SANITATION]
        mine = await read(sanitation, f"/evaluation/department/{SANITATION}/cases", indicator=RATE)
        assert mine.status_code == 200
        theirs = await read(sanitation, f"/evaluation/department/{URBAN}/cases", indicator=RATE)
        assert theirs.status_code == 403
        assert theirs.json()["detail"] == (
            f"department {URBAN} is not among the lines department-1 may read"
        )
        # 崂山区城市管理局 oversees its sub-unit: it reads that line, as it urges only those below.
        upper = auth(Role.UPPER_DEPARTMENT, department_id=URBAN)
        below = (await read(upper, "/evaluation/department")).json()["rows"]
        assert below == [everyone[SANITATION]]

        supervisor = auth(Role.FIELD_SUPERVISOR, id=SV)
        assert (await read(supervisor, "/evaluation/supervisor")).json()["rows"] == [
            supervisors[SV]
        ]
        for refused in (
            await read(supervisor, "/evaluation/department"),
            await read(sanitation, "/evaluation/district"),
            await read(sanitation, "/evaluation/counters"),
        ):
            assert refused.status_code == 403, refused.text


RATE = "handled_on_time_rate"


async def test_a_rebuild_from_the_log_gives_the_live_numbers(
    service_settings: ServiceSettings, publish: Publish, auth: Auth, evaluation: Evaluation
) -> None:
    stories = the_log()
    log = events(stories)
    await publish(log[: len(log) // 2])
    queries = [
        *(
            ("/evaluation/" + s.value, {"period": p})
            for s in Subject
            for p in ("2026-03", "2026-Q1", "2026-03-10..2026-03-11")
        ),
        ("/evaluation/counters", {"period": "2026-03", "by": "major"}),
    ]
    async with evaluation(service_settings, CONFIG) as live:
        # Live: half the log read, then the rest as it comes.
        await read_everything(live, len(log) // 2)
        await publish(log[len(log) // 2 :])
        await read_everything(live, len(log))
        before = [await _get(live[0], auth, path, params) for path, params in queries]
        # Judged again from the histories kept (after a reference data change): the same.
        database = live[1].database
        async with database.begin() as uow:
            uow.write(delete(step_rounds))
            uow.write(delete(evaluated_cases))
        assert (await _get(live[0], auth, *queries[0]))["rows"] == []
        assert await rejudge(database, ReferenceData.demo(), batch=3) == len(the_log())  # 7 cases
        rejudged = [await _get(live[0], auth, path, params) for path, params in queries]
        assert rejudged == before
    fresh = service_settings.model_copy(
        update={
            "database": service_settings.database.model_copy(
                update={"schema_name": f"{service_settings.database.schema_name}_rebuilt"}
            )
        }
    )
    async with evaluation(fresh, CONFIG) as rebuilt:
        await read_everything(rebuilt, len(log))
        after = [await _get(rebuilt[0], auth, path, params) for path, params in queries]
    assert after == before
    assert any(row["rows"] for row in before)


async def _get(client: httpx.AsyncClient, auth: Auth, path: str, params: dict[str, str]) -> Any:
    answer = await client.get(path, params=params, headers=auth(Role.LEADER))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_city_evaluates_its_districts_from_their_streams(
    service_settings: ServiceSettings, publish: Publish, auth: Auth, evaluation: Evaluation
) -> None:
    """At the city, evaluation reads each district's topics (sync mirrors them to the city's
    cluster; here the district shares the city's): a district's figures are the same there."""
    log = events(the_log())
    await publish(log)
    city = service_settings.model_copy(update={"site": "370200", "districts": "370212"})
    async with evaluation(city, CONFIG) as served:
        await read_everything(served, len(log))
        answer = await served[0].get(
            "/evaluation/district",
            params={"period": "2026-03"},
            headers=auth(Role.LEADER, site="370200"),
        )
        at_city = answer.json()["rows"]
        whole_city = await served[0].get(
            "/evaluation/city",
            params={"period": "2026-03"},
            headers=auth(Role.LEADER, site="370200"),
        )
        district_leader = await served[0].get(
            "/evaluation/district",
            params={"period": "2026-03"},
            headers=auth(Role.LEADER, site="370202"),
        )
    assert [row["id"] for row in at_city] == ["370212"]
    assert at_city[0]["counts"]["cases.registered"] == 5
    assert at_city[0]["score"] == pytest.approx(70.5)
    # Another district's leader reads none of it: the city's evaluation is the city's people's.
    assert district_leader.status_code == 403
    assert district_leader.json()["detail"] == (
        "actor of site 370202 may not read the queries of site 370200"
    )
    (city_row,) = whole_city.json()["rows"]
    # The city as one region: the same cases, 5 on the demo city's 27 grids (< 1 a grid).
    assert (city_row["id"], city_row["counts"]["cases.registered"]) == ("370200", 5)
    assert city_row["indicators"]["registered_volume"]["score"] == 100


async def test_analysts_get_every_event_read_and_nothing_personal(
    service_settings: ServiceSettings, publish: Publish, evaluation: Evaluation
) -> None:
    stories = the_log()
    log = events(stories)
    await publish(log)
    async with evaluation(service_settings, CONFIG) as served:
        await read_everything(served, len(log))
        topic = analytics_topic(service_settings.site, service_settings.topic_namespace)
        records = await topic_records(service_settings.kafka.bootstrap_servers, topic, len(log))
    carried = [json.loads(record.value) for record in records]
    assert {r["event_id"] for r in carried} == {str(e.event_id) for e in log}
    by_id = {str(e.event_id): e for e in log}
    for record in carried:
        event = by_id[record["event_id"]]
        assert (
            record["payload"]
            .keys()
            .isdisjoint(
                path.split(".")[1] for path in personal_paths(type(event)) if path.count(".") == 1
            )
        )
        assert record == for_analysts(event)
    reported = next(r for r in carried if r["event_id"] == str(stories["A"].events[0].event_id))
    assert "description" not in reported["payload"]
    assert reported["payload"]["location"] == {"grid_code": "370212001001001"}

    # The analyst's example reads the same topic into hotspots and a heat map.
    example = _analyst_example()
    counted = example.hotspots(await example.read(service_settings.kafka.bootstrap_servers, topic))
    # A D E F G in the first grid (F self-handled, G in April), B and C in two others.
    assert dict(counted) == {
        ("370212001001001", "01002"): 5,
        ("370212001002001", "01002"): 1,
        ("370212002001001", "01002"): 1,
    }
    assert example.table(counted).splitlines()[1].split() == ["370212001001001", "01002", "5"]
    cells = ET.fromstring(example.heat_map(counted)).iter("{http://www.w3.org/2000/svg}rect")
    shown = {
        (c.get("data-grid"), c.get("data-category")): int(c.get("data-count") or 0)
        for c in cells
        if c.get("class") == "cell"
    }
    assert shown == dict(counted)


def _analyst_example() -> Any:
    path = Path(__file__).parents[3] / "docs" / "analyst" / "hotspots.py"
    spec = importlib.util.spec_from_file_location("hotspots", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_log_written_in_version_1_evaluates_as_in_version_2(
    service_settings: ServiceSettings, auth: Auth, evaluation: Evaluation
) -> None:
    """Schema evolution on the real broker: the same cases logged once as version 1 wrote
    them (no deadlines but a dispatch's and a task's) and once as version 2 give one table,
    the upcasters lifting the old records and the rest computed as the stages did."""
    reference = ReferenceData.demo()

    def due(step: ClockStep, start: datetime) -> datetime:
        return step_deadline(step, start, "01002", None, reference).due_at

    stories = []
    for number, day in enumerate((10, 11, 12), start=1):
        registered = at(day, "09:00")
        stories.append(
            Story(sequence=number)
            .reported(
                at(day, "08:40"), by=SV, acceptance_due=due(ClockStep.ACCEPTANCE, at(day, "08:40"))
            )
            .accepted(
                at(day, "08:50"),
                by="op-1",
                registration_due=due(ClockStep.REGISTRATION, at(day, "08:50")),
            )
            .registered(
                registered,
                by="chief-1",
                dispatch_due=due(ClockStep.DISPATCH, registered),
                overall_due=due(ClockStep.OVERALL, registered),
            )
            .handled(
                department=URBAN,
                dispatched=at(day, "09:20"),
                due=at(day, "11:20"),
                done=at(day, f"1{number}:00"),
            )
        )
    v2 = [event for story in stories for event in story.events]
    answers: list[list[Any]] = []
    for written in (v2, [as_version_1(event) for event in v2]):
        namespace = f"{service_settings.topic_namespace}v{len(answers) + 1}"
        settings = service_settings.model_copy(
            update={
                "topic_namespace": namespace,
                "database": service_settings.database.model_copy(
                    update={
                        "schema_name": f"{service_settings.database.schema_name}_{len(answers)}"
                    }
                ),
            }
        )
        async with evaluation(settings, CONFIG) as served:
            await write_raw(settings, written)
            await read_everything(served, len(written))
            answers.append(
                [
                    await _get(served[0], auth, f"/evaluation/{subject}", {"period": "2026-03"})
                    for subject in ("district", "department", "dispatcher", "duty_chief")
                ]
            )
        await delete_namespace_topics(settings.kafka.bootstrap_servers, namespace)
    assert answers[0] == answers[1]
    assert answers[0][1]["rows"][0]["indicators"]["handled_on_time_rate"]["denominator"] == 3


def as_version_1(event: CaseEvent) -> bytes:
    """The record as version 1 wrote it: no ``deadlines``."""
    raw = json.loads(encode(event))
    if event.event_type in LIFTED_FROM_V1:
        raw["schema_version"] = 1
        del raw["payload"]["deadlines"]
    return json.dumps(raw).encode()


async def write_raw(settings: ServiceSettings, records: list[CaseEvent] | list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for record in records:
            value = record if isinstance(record, bytes) else encode(record)
            event = json.loads(value)
            stage = next(iter(EVENT_TYPES[event["event_type"]].emitted_by))
            topic = event_topic(settings.site, stage, settings.topic_namespace)
            await producer.send_and_wait(topic, value, key=event["case_id"].encode())
    finally:
        await producer.stop()
