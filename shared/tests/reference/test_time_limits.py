from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cityloop_shared.reference import (
    ClockStep,
    ReferenceDataError,
    TimeUnit,
    Urgency,
    WorkingDuration,
    load_time_limits,
)
from cityloop_shared.reference.bundle import DEMO_CITY

Write = Callable[[str, str], Path]

DEFAULTS = "".join(
    f"  - {{step: {step}, category: '*', amount: 1, unit: working_hours}}\n" for step in ClockStep
)
ADDED = f"time_limits.yaml entry {len(ClockStep) + 1} (line {len(ClockStep) + 2})"
"""The entry a test appends after the defaults."""
CHECK_DEFAULT = f"entry {list(ClockStep).index(ClockStep.CHECK) + 1}"


def test_the_demo_limits_follow_the_city_rules() -> None:
    limits = load_time_limits(DEMO_CITY / "time_limits.yaml")

    def disposal(category: str) -> str:
        return str(limits.limit_for(ClockStep.DISPOSAL, category).duration)

    assert disposal("06010") == "4 working hours"  # 暴露垃圾
    assert disposal("01002") == "2 working hours"  # 污水井盖
    assert disposal("01037") == "1 working days"  # 路灯
    assert disposal("06012") == "2 working hours"  # 道路不洁
    assert disposal("04013") == "5 working days"  # 绿地
    assert disposal("08004") == "3 working days"  # falls back to '*'
    assert str(limits.limit_for(ClockStep.CHECK, "06010").duration) == "1 working hours"
    assert (
        str(limits.limit_for(ClockStep.DISPATCH, "06010", Urgency.URGENT).duration)
        == "10 working minutes"
    )
    assert (
        str(limits.limit_for(ClockStep.DISPATCH, "06010", Urgency.ORDINARY).duration)
        == "30 working minutes"
    )


def test_the_category_decides_before_the_urgency(write: Write) -> None:
    path = write(
        "time_limits.yaml",
        "time_limits:\n"
        + DEFAULTS
        + "  - {step: disposal, category: '06', amount: 8, unit: working_hours}\n"
        + "  - {step: disposal, category: '*', urgency: urgent, amount: 30, unit: working_minutes}"
        + "\n"
        + "  - {step: disposal, category: '06', urgency: urgent, amount: 2, unit: working_hours}\n"
        + "  - {step: disposal, category: '06010', amount: 4, unit: working_hours}\n",
    )
    limits = load_time_limits(path)

    def amount(category: str, urgency: Urgency | None = None) -> str:
        return str(limits.limit_for(ClockStep.DISPOSAL, category, urgency).duration)

    assert amount("06010", Urgency.URGENT) == "4 working hours"
    assert amount("06011", Urgency.URGENT) == "2 working hours"
    assert amount("06011") == "8 working hours"
    assert amount("07001", Urgency.URGENT) == "30 working minutes"
    assert amount("07001", Urgency.ORDINARY) == "1 working hours"


def test_a_duration_in_minutes_or_hours_is_working_time() -> None:
    assert WorkingDuration(
        unit=TimeUnit.WORKING_HOURS, amount=Decimal("1.5")
    ).working_time == timedelta(minutes=90)
    assert WorkingDuration(
        unit=TimeUnit.WORKING_MINUTES, amount=Decimal(45)
    ).working_time == timedelta(minutes=45)
    assert WorkingDuration(unit=TimeUnit.WORKING_DAYS, amount=Decimal(2)).working_time is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{step: disposal, category: 06010, amount: 4, unit: working_hours}",
            f"{ADDED}: category 3080 was read as a number: write codes in quotes, e.g. '06010'",
        ),
        (
            "{step: disposal, category: '06', amount: 1.5, unit: working_days}",
            f"{ADDED}: amount 1.5 must be a whole number of working days",
        ),
        (
            "{step: disposal, category: '06', amount: 0, unit: working_hours}",
            f"{ADDED}: amount 0: input should be greater than 0",
        ),
        (
            "{step: disposal, category: '06', amount: 2, unit: hours}",
            f"{ADDED}: unit 'hours': input should be 'working_minutes', "
            "'working_hours' or 'working_days'",
        ),
        (
            "{step: closing, category: '06', amount: 2, unit: working_hours}",
            f"{ADDED}: step 'closing': input should be 'acceptance'",
        ),
        (
            "{step: check, category: '*', amount: 2, unit: working_hours}",
            f"{ADDED}: step check, category '*' repeats {CHECK_DEFAULT}",
        ),
    ],
)
def test_malformed_limits_are_named_by_entry_and_field(
    write: Write, entry: str, message: str
) -> None:
    path = write("time_limits.yaml", "time_limits:\n" + DEFAULTS + f"  - {entry}\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_time_limits(path)

    assert str(refused.value).startswith(message)


def test_every_step_needs_a_default(write: Write) -> None:
    path = write("time_limits.yaml", "time_limits:\n" + DEFAULTS.replace("check", "disposal"))

    with pytest.raises(ReferenceDataError) as refused:
        load_time_limits(path)

    assert refused.value.problems[-1] == (
        "time_limits.yaml: step check has no default: add category '*' without urgency"
    )


def test_limits_travel_in_events_as_whole_units() -> None:
    from decimal import Decimal

    from cityloop_shared.reference.durations import WorkingDuration

    hours = WorkingDuration(unit=TimeUnit.WORKING_HOURS, amount=Decimal(4)).as_time_limit()
    assert (hours.amount, hours.unit) == (4, TimeUnit.WORKING_HOURS)
    half = WorkingDuration(unit=TimeUnit.WORKING_HOURS, amount=Decimal("0.5")).as_time_limit()
    assert (half.amount, half.unit) == (30, TimeUnit.WORKING_MINUTES)
