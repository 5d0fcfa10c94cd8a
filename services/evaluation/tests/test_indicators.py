"""League tables from counts: rates, banded and relative scores, composites, ranks (ties
share one), grades, the minimum volume, external satisfaction, and the configuration that
changes them. Every expected figure is worked out by hand here."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cityloop_evaluation.config import EvaluationConfig, Subject, load_config
from cityloop_evaluation.indicators import Standing, league
from cityloop_evaluation.periods import BadPeriod, parse_period
from cityloop_shared.reference.errors import ReferenceDataError

pytestmark = pytest.mark.unit


def region(registered: int, public: int, due: int, closed: int, on_time: int) -> dict[str, float]:
    return {
        "cases.registered": registered,
        "cases.public_confirmed": public,
        "cases.voided": 0,
        "cases.due_to_close": due,
        "cases.closed": closed,
        "cases.closed_on_time": on_time,
    }


DISTRICTS = {
    "370202": region(20, 4, 16, 12, 8),
    "370203": region(10, 0, 10, 10, 10),
    "370204": region(3, 0, 3, 3, 3),  # too few cases to rank
    "370205": region(12, 6, 0, 0, 0),  # nothing due to close yet
    "370213": region(20, 4, 16, 12, 8),  # the same as 370202
}


def by_id(rows: list[Standing]) -> dict[str, Standing]:
    return {row.subject_id: row for row in rows}


def test_a_regions_indicators_composite_rank_and_grade() -> None:
    rows = league(Subject.DISTRICT, DISTRICTS, EvaluationConfig(), grids_in=lambda _: 9)
    found = by_id(rows)
    a = found["370202"]
    # 4/20 reported by the public: 80; 20 cases on 9 grids, 2.2 a grid (< 3): 90;
    # closed 12/16: 75; on time 8/16: 50. 10 % · 80 + 20 % · 90 + 30 % · 75 + 40 % · 50.
    assert {name: m.score for name, m in a.indicators.items()} == {
        "supervision_report_rate": pytest.approx(80),
        "registered_volume": 90,
        "closing_rate": 75,
        "closed_on_time_rate": 50,
    }
    assert (a.indicators["closing_rate"].numerator, a.indicators["closing_rate"].denominator) == (
        12,
        16,
    )
    assert a.score == pytest.approx(68.5)
    assert a.grade == "合格"
    assert found["370203"].score == pytest.approx(98)
    assert found["370203"].grade == "优秀"
    # Nothing due: the two closing rates are left out, the others weigh 10 : 20.
    d = found["370205"]
    assert d.indicators["closing_rate"].value is None
    assert d.score == pytest.approx((10 * 50 + 20 * 90) / 30)
    assert d.grade == "合格"


def test_ties_share_a_rank_and_the_unranked_come_last_without_grade() -> None:
    rows = league(Subject.DISTRICT, DISTRICTS, EvaluationConfig(), grids_in=lambda _: 9)
    assert [(r.subject_id, r.rank) for r in rows] == [
        ("370203", 1),
        ("370205", 2),
        ("370202", 3),
        ("370213", 3),
        ("370204", None),
    ]
    unranked = rows[-1]
    assert (unranked.ranked, unranked.grade) == (False, None)
    assert unranked.score == pytest.approx(100)  # perfect, and still below the others


def test_the_minimum_volume_is_configuration() -> None:
    config = EvaluationConfig(minimum_volume=dict.fromkeys(Subject, 3))
    rows = league(Subject.DISTRICT, DISTRICTS, config, grids_in=lambda _: 9)
    assert rows[0].subject_id == "370204"  # 3 cases now suffice, and it is perfect
    assert rows[0].rank == 1


def test_bands_score_a_regions_case_count() -> None:
    config = EvaluationConfig()
    assert [config.band(n) for n in (0, 2.9, 3, 4, 5, 6, 7, 8, 9, 40)] == [
        100,
        90,
        75,
        75,
        60,
        60,
        40,
        40,
        0,
        0,
    ]
    per_district = config.model_copy(update={"bands_per_grid": False})
    rows = league(Subject.DISTRICT, {"370203": region(10, 0, 10, 10, 10)}, per_district)
    assert rows[0].indicators["registered_volume"].score == 0  # 10 cases, past the last band


def test_a_volume_scores_its_share_of_the_largest_and_wrong_dispatches_count_against() -> None:
    counts = {
        "dispatcher-1": {
            "dispatch.done": 40,
            "dispatch.due": 40,
            "dispatch.on_time": 30,
            "dispatch.wrong": 4,
        },
        "dispatcher-2": {
            "dispatch.done": 20,
            "dispatch.due": 25,
            "dispatch.on_time": 20,
            "dispatch.wrong": 0,
        },
    }
    found = by_id(league(Subject.DISPATCHER, counts, EvaluationConfig()))
    # 20 % · 100 + 40 % · 75 + 40 % · (36/40 = 90)
    assert found["dispatcher-1"].score == pytest.approx(86)
    assert found["dispatcher-1"].grade == "良好"
    # 20 % · 50 + 40 % · 80 + 40 % · (20/25 = 80)
    assert found["dispatcher-2"].score == pytest.approx(74)
    assert found["dispatcher-2"].indicators["accurate_dispatch_rate"].numerator == 20


def test_external_satisfaction_weighs_in_when_configured() -> None:
    counts = {
        "370212-urban": {
            "disposal.due": 10,
            "disposal.on_time": 9,
            "disposal.done": 10,
            "disposal.reworked": 1,
            "cases.due_to_close": 10,
            "cases.closed": 9,
            "satisfaction.recorded": 4,
            "satisfaction.satisfied": 3,
        }
    }
    internal_only = league(Subject.DEPARTMENT, counts, EvaluationConfig())[0]
    assert internal_only.internal == pytest.approx(90)  # 40 · 90 + 30 · 90 + 30 · 90
    assert internal_only.external == pytest.approx(75)
    assert internal_only.score == pytest.approx(90)
    blended = league(Subject.DEPARTMENT, counts, EvaluationConfig(external_weight=20))[0]
    assert blended.score == pytest.approx(90 * 0.8 + 75 * 0.2)


def test_a_citys_configuration_file_changes_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "evaluation.yaml").write_text(
        "weights:\n  district: {closing_rate: 50, closed_on_time_rate: 50}\n"
        "grades:\n  - {name: A, at_least: 65}\n  - {name: B, at_least: 0}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config.weights[Subject.DEPARTMENT] == EvaluationConfig().weights[Subject.DEPARTMENT]
    assert config.fingerprint() != EvaluationConfig().fingerprint()
    found = by_id(league(Subject.DISTRICT, DISTRICTS, config, grids_in=lambda _: 9))
    assert found["370202"].score == pytest.approx(62.5)  # 50 · 75 + 50 · 50
    assert found["370202"].grade == "B"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weights:\n  district: {speed: 10}\n", "weights.district: unknown ['speed']"),
        ("grades:\n  - {name: A, at_least: 65}\n", "grades: end with a grade at_least 0"),
    ],
)
def test_a_wrong_configuration_is_refused_saying_what(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "evaluation.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(tmp_path)


SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-03-10", date(2026, 3, 10), date(2026, 3, 10)),
        ("2026-W11", date(2026, 3, 9), date(2026, 3, 15)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-03-01..2026-03-15", date(2026, 3, 1), date(2026, 3, 15)),
    ],
)
def test_periods_are_named_as_people_write_them(text: str, first: date, last: date) -> None:
    period = parse_period(text, SH)
    assert (period.first, period.last) == (first, last)
    assert period.start.isoformat() == f"{first.isoformat()}T00:00:00+08:00"


def test_a_period_gives_its_months_for_a_trend() -> None:
    assert [m.name for m in parse_period("2026-Q1", SH).months()] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]


@pytest.mark.parametrize("text", ["2026-13", "March", "2026-03-15..2026-03-01", "2026-Q5"])
def test_a_wrong_period_is_refused(text: str) -> None:
    with pytest.raises(BadPeriod):
        parse_period(text, SH)
