"""Time limits (环节时限) per step of the loop and per category, in working time.

A YAML file with a ``time_limits:`` list of step, category (full code, 2-digit major or ``*``),
optional urgency, amount and unit. For a case the most specific category wins (code over major
over ``*``), then a limit for the case's urgency over one for any urgency. Every step needs a
``*`` limit for any urgency, so every case has a limit.
"""

from collections.abc import Iterator
from pathlib import Path

from cityloop_shared.contract.values import ClockStep, Urgency
from cityloop_shared.reference._sources import validate, yaml_entries
from cityloop_shared.reference.codes import (
    ANY,
    DEFAULT_CODE_WIDTH,
    CategorySelector,
    selectors_for,
)
from cityloop_shared.reference.durations import WorkingDuration
from cityloop_shared.reference.errors import ReferenceDataError, problem


class TimeLimit(WorkingDuration):
    """A working-time limit for a step, for the categories and urgency it applies to."""

    step: ClockStep
    category: CategorySelector
    urgency: Urgency | None = None

    @property
    def duration(self) -> WorkingDuration:
        return WorkingDuration(unit=self.unit, amount=self.amount)


class TimeLimitTable:
    def __init__(self, limits: tuple[TimeLimit, ...]) -> None:
        self.limits = limits
        self._by_key = {(t.step, t.category, t.urgency): t for t in limits}

    def limit_for(
        self, step: ClockStep, category_code: str, urgency: Urgency | None = None
    ) -> TimeLimit:
        """The limit of a step for a case of this category and urgency.

        Raises ``LookupError`` only for a table without a ``*`` default for the step, which
        ``load_time_limits`` refuses.
        """
        for selector in selectors_for(category_code):
            for wanted in (urgency, None) if urgency else (None,):
                limit = self._by_key.get((step, selector, wanted))
                if limit is not None:
                    return limit
        raise LookupError(f"no time limit for step {step} and category {category_code}")

    def __iter__(self) -> Iterator[TimeLimit]:
        return iter(self.limits)

    def __len__(self) -> int:
        return len(self.limits)


def load_time_limits(path: Path, *, code_width: int = DEFAULT_CODE_WIDTH) -> TimeLimitTable:
    source = path.name
    entries = yaml_entries(path, "time_limits")
    limits = validate(TimeLimit, source, entries, context={"code_width": code_width})
    problems: list[str] = []
    first: dict[tuple[ClockStep, str, Urgency | None], str] = {}
    for where, limit in limits:
        key = (limit.step, limit.category, limit.urgency)
        if key in first:
            what = f"step {limit.step}, category '{limit.category}'{_urgency(limit.urgency)}"
            text = f"{what} repeats {first[key]}"
            problems.append(problem(source, where, text))
        first.setdefault(key, where)
    problems += [
        problem(source, None, f"step {step} has no default: add category '*' without urgency")
        for step in ClockStep
        if (step, ANY, None) not in first
    ]
    if problems:
        raise ReferenceDataError(problems)
    return TimeLimitTable(tuple(limit for _, limit in limits))


def _urgency(urgency: Urgency | None) -> str:
    return f", urgency {urgency}" if urgency else ""
